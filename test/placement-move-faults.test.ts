import { expect } from 'chai';
import type { MoveProgress } from '../src/moves/tenant-mover.js';
import { rejection } from './support/async-helpers.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { adminQuery, TEST_ACTOR } from './support/test-plane.js';
import { twoServers } from './support/two-servers.js';

const MANAGED = ADMIN_KINDS.find((kind) => !kind.superuser)!;

/**
 * A move between two servers that fails at each of its steps, or whose process dies in its pause, leaves
 * the tenant serving where it was with every row, its capture triggers gone and nothing of it at the
 * target; the next move finishes what a failure after the switch left. Non-superuser admins throughout.
 */
describe('move faults between two servers (managed-PostgreSQL admins)', function () {
  this.timeout(120000);
  const fixture = twoServers(MANAGED);
  const mover = () => fixture.plane.tp.mover;

  async function expectWhereItWas(rowsBefore: unknown[]) {
    const tenant = await fixture.plane.tp.catalog.requireTenant('mover');
    expect(tenant).to.include({ status: 'active', databaseId: 'shard-a' });
    expect(await fixture.rowsIn('pg-one', `${fixture.plane.prefix}_s_shard_a`)).to.deep.equal(rowsBefore);
    expect(
      await fixture.rowsIn('pg-two', `${fixture.plane.prefix}_s_shard_c`),
      'rows at the target',
    ).to.deep.equal([]);
    expect(await fixture.captureTriggers('pg-one', `${fixture.plane.prefix}_s_shard_a`)).to.deep.equal([]);
    const moves = await adminQuery(`${fixture.plane.prefix}_control`, 'SELECT * FROM tenant_moves');
    expect(moves.rowCount, 'the move ledger').to.equal(0);
    expect(await fixture.neighbourRows()).to.deep.equal(fixture.neighbourBefore);
  }

  for (const phase of ['preparing', 'copying', 'catching_up', 'paused'] as const) {
    it(`rolls back a move that fails when ${phase}`, async () => {
      const rowsBefore = await fixture.rowsIn('pg-one', `${fixture.plane.prefix}_s_shard_a`);
      const failure = await rejection(
        mover().move('mover', { shard: 'shard-c' }, TEST_ACTOR, (progress: MoveProgress) => {
          if (progress.phase === phase) throw new Error(`injected at ${phase}`);
        }),
      );
      expect(failure.message).to.equal(`injected at ${phase}`);
      await expectWhereItWas(rowsBefore);
    });
  }

  it('recovers a move whose process died in its pause: the next move rolls it back, then moves', async () => {
    const rowsBefore = await fixture.rowsIn('pg-one', `${fixture.plane.prefix}_s_shard_a`);
    let reached!: () => void;
    const paused = new Promise<void>((resolve) => {
      reached = resolve;
    });
    void mover()
      .move('mover', { shard: 'shard-c' }, TEST_ACTOR, (progress) => {
        if (progress.phase !== 'paused') return;
        reached();
        return new Promise<void>(() => {});
      })
      .catch(() => {});
    await paused;
    // The process "dies": every session it holds, on both servers and on the catalog, ends at once.
    const kill = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                   WHERE application_name = 'tenantplane-mover' AND datname LIKE $1`;
    await adminQuery('postgres', kill, [`${fixture.plane.prefix}\\_%`]);
    await fixture.cluster.query('postgres', kill, [`${fixture.plane.prefix}\\_%`]);
    expect((await fixture.plane.tp.catalog.requireTenant('mover')).status, 'left paused').to.equal('moving');

    const result = await mover().move('mover', { shard: 'shard-c' }, TEST_ACTOR);
    expect(result).to.include({ moved: true, cutover: 'captured' });
    expect(await fixture.rowsIn('pg-two', `${fixture.plane.prefix}_s_shard_c`)).to.deep.equal(rowsBefore);
    const audit = await adminQuery<{ action: string }>(
      `${fixture.plane.prefix}_control`,
      "SELECT action FROM audit_log WHERE tenant_id = 'mover' AND action = 'tenant.move_recovered'",
    );
    expect(audit.rowCount).to.equal(1);
    // Back where the other tests expect it.
    await mover().move('mover', { shard: 'shard-a' }, TEST_ACTOR);
    await expectWhereItWas(rowsBefore);
  });

  it('finishes on the next move what a failure after the switch left', async () => {
    const rowsBefore = await fixture.rowsIn('pg-one', `${fixture.plane.prefix}_s_shard_a`);
    const failure = await rejection(
      mover().move('mover', { shard: 'shard-c' }, TEST_ACTOR, (progress) => {
        if (progress.phase === 'cleaning') throw new Error('injected while cleaning');
      }),
    );
    expect(failure.message).to.match(/removing its old placement failed/);
    expect((await fixture.plane.tp.catalog.requireTenant('mover')).databaseId).to.equal('shard-c');
    expect(await fixture.rowsIn('pg-two', `${fixture.plane.prefix}_s_shard_c`)).to.deep.equal(rowsBefore);
    const back = await mover().move('mover', { shard: 'shard-a' }, TEST_ACTOR);
    expect(back.moved).to.equal(true);
    await expectWhereItWas(rowsBefore);
  });

  it('compares the whole tenant instead when the admin role may not put triggers on the source tables', async () => {
    const shardA = `${fixture.plane.prefix}_s_shard_a`;
    const owner = `${fixture.plane.prefix}_other_owner`;
    const admin = `${fixture.plane.prefix}_admin_pg_one`;
    const tables = 'users, deployments, workflows, audit_events';
    const rowsBefore = await fixture.rowsIn('pg-one', shardA);
    await adminQuery('postgres', `CREATE ROLE "${owner}" NOLOGIN`);
    // Tables owned by another role, with every right but TRIGGER left to the admin.
    await adminQuery(
      shardA,
      `ALTER TABLE users OWNER TO "${owner}"; ALTER TABLE deployments OWNER TO "${owner}";
       ALTER TABLE workflows OWNER TO "${owner}"; ALTER TABLE audit_events OWNER TO "${owner}";
       GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables} TO "${admin}"`,
    );
    try {
      const result = await mover().move('mover', { shard: 'shard-c' }, TEST_ACTOR);
      expect(result).to.include({ moved: true, cutover: 'compared' });
      expect(await fixture.rowsIn('pg-two', `${fixture.plane.prefix}_s_shard_c`)).to.deep.equal(rowsBefore);
      await mover().move('mover', { shard: 'shard-a' }, TEST_ACTOR);
    } finally {
      await adminQuery(
        shardA,
        `ALTER TABLE users OWNER TO "${admin}"; ALTER TABLE deployments OWNER TO "${admin}";
         ALTER TABLE workflows OWNER TO "${admin}"; ALTER TABLE audit_events OWNER TO "${admin}"`,
      );
    }
    await expectWhereItWas(rowsBefore);
  });
});
