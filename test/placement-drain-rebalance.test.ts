import { expect } from 'chai';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { runTenantctl } from './support/tenantctl.js';
import { adminQuery, TEST_ACTOR } from './support/test-plane.js';
import { expectCleanTraffic, expectedRows } from './support/traffic.js';
import { twoServers } from './support/two-servers.js';

const MANAGED = ADMIN_KINDS.find((kind) => !kind.superuser)!;

/**
 * Rebalancing shards by their tenants' bytes, draining a server, and region pins, on two servers with
 * non-superuser admins. In order: the rebalance leaves `mover` on shard-b, the drain then empties pg-one.
 */
describe('shard rebalances, server drains and regions (managed-PostgreSQL admins)', function () {
  this.timeout(180000);
  const fixture = twoServers(MANAGED);
  const tenantctl = (...args: string[]) => runTenantctl(fixture.plane.cliEnv(), ...args);
  const control = () => `${fixture.plane.prefix}_control`;
  const databaseOf = async (tenantId: string) =>
    (await fixture.plane.tp.catalog.requireTenant(tenantId)).databaseId;
  /** The size recorded for placement (tenant_sizes). */
  const recordedSize = async (tenantId: string) =>
    (
      await adminQuery(
        control(),
        'SELECT database_id, bytes::float8 AS bytes FROM tenant_sizes WHERE tenant_id = $1',
        [tenantId],
      )
    ).rows[0];

  it('plans a rebalance by measured bytes in a dry run that changes nothing, then makes exactly those moves', async () => {
    const dry = await tenantctl('shards', 'rebalance', '--dry-run', '--json', '--min-gain-bytes', '1000');
    expect(dry.code, dry.stderr).to.equal(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.moves).to.have.length(1);
    expect(plan.moves[0]).to.include({ tenant_id: 'mover', from: 'shard-a', to: 'shard-b' });
    // 3,500 rows of a few dozen bytes each, measured in the database.
    expect(plan.moves[0].bytes).to.be.within(100_000, 2_000_000);
    expect(await databaseOf('mover'), 'a dry run moves nothing').to.equal('shard-a');
    expect(await recordedSize('mover'), 'a dry run records what it measured').to.deep.equal({
      database_id: 'shard-a',
      bytes: plan.moves[0].bytes,
    });

    const started = await fixture.admin('POST', '/admin/v1/rebalance', { min_gain_bytes: 1000 });
    expect(started.status).to.equal(202);
    const job = await fixture.waitForJob(started.body.job_id);
    expect(job.state, job.error).to.equal('completed');
    const done = job.result.moves.map(({ tenant_id, from, to, bytes }: Record<string, unknown>) => ({
      tenant_id,
      from,
      to,
      bytes,
    }));
    expect(done, 'the run made the moves the dry run planned').to.deep.equal(plan.moves);
    expect(job.result.moves[0].moved).to.equal(true);
    expect(await databaseOf('mover')).to.equal('shard-b');
    expect(await recordedSize('mover'), 'a rebalance move records the size where it took it').to.deep.equal({
      database_id: 'shard-b',
      bytes: plan.moves[0].bytes,
    });

    const again = await fixture.admin('POST', '/admin/v1/rebalance', { dry_run: true, min_gain_bytes: 1000 });
    expect(again.status).to.equal(200);
    expect(again.body.moves, 'nothing left worth a move').to.deep.equal([]);
    const defaults = await fixture.admin('POST', '/admin/v1/rebalance', { dry_run: true });
    expect(defaults.body.min_gain_bytes, 'the default gain is at least 1 MiB').to.be.at.least(1024 * 1024);
    expect(defaults.body.moves).to.deep.equal([]);
    const bad = await fixture.admin('POST', '/admin/v1/rebalance', { max_moves: 0 });
    expect(bad.status).to.equal(400);
  });

  it('drains a server under traffic: every tenant moves off, with progress, and it takes no new placement', async () => {
    // A tenant in its own database on pg-one as well.
    await fixture.plane.tp.tenants.create({ id: 'solo', tier: 'enterprise' }, TEST_ACTOR);
    await fixture.plane.tp.mover.move('solo', { dedicated: { server: 'pg-one' } }, TEST_ACTOR);
    expect((await fixture.placementOf('solo')).server).to.equal('pg-one');

    const dry = await tenantctl('servers', 'drain', 'pg-one', '--dry-run', '--json');
    expect(dry.code, dry.stderr).to.equal(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.moves.map((step: { tenant_id: string }) => step.tenant_id).sort()).to.deep.equal([
      'mover',
      'neighbour',
      'solo',
    ]);
    expect(plan.moves.find((step: { tenant_id: string }) => step.tenant_id === 'solo')).to.include({
      to: 'dedicated',
      server: 'pg-two',
    });
    expect(plan.stuck).to.deep.equal([]);
    const before = await fixture.admin('GET', '/admin/v1/tenants/mover');
    expect(before.body.placement.server_id, 'a dry run moves nothing').to.equal('pg-one');

    const traffic = await fixture.traffic();
    const drain = await tenantctl('servers', 'drain', 'pg-one');
    await traffic.stop();
    expect(drain.code, drain.stderr).to.equal(0);
    expect(drain.stdout).to.match(/draining pg-one \(job server-drain\.pg-one\.1\)/);
    expect(drain.stdout, 'progress bar lines').to.match(/\[#+\.*\] [1-3]\/3/);
    expect(drain.stdout).to.match(/server pg-one: 3 tenant\(s\) moved off, 0 left/);
    expectCleanTraffic(traffic);
    for (const tenantId of ['mover', 'neighbour', 'solo']) {
      expect((await fixture.placementOf(tenantId)).server, tenantId).to.equal('pg-two');
    }
    const moverNow = await fixture.placementOf('mover');
    expect(await fixture.rowsIn('pg-two', moverNow.databaseName)).to.deep.equal(expectedRows(traffic));
    const left = await adminQuery(
      control(),
      "SELECT t.id FROM tenants t JOIN databases d ON d.id = t.database_id WHERE d.server_id = 'pg-one'",
    );
    expect(left.rows).to.deep.equal([]);

    const servers = JSON.parse((await tenantctl('servers', 'list', '--json')).stdout);
    expect(servers.find((server: { id: string }) => server.id === 'pg-one')).to.include({ draining: true });
    const newcomer = await fixture.plane.tp.tenants.create({ id: 'newcomer', tier: 'starter' }, TEST_ACTOR);
    expect(newcomer.databaseId, 'no new placement on a draining server').to.equal('shard-c');
    const onto = await fixture.admin('POST', '/admin/v1/tenants/newcomer/moves', { to: 'shard-a' });
    expect(onto.status).to.equal(409);
    expect(onto.body.error.code).to.equal('server_draining');

    const again = await fixture.admin('POST', '/admin/v1/servers/pg-one/drain', {});
    expect(again.status).to.equal(202);
    const emptyDrain = await fixture.waitForJob(again.body.job_id);
    expect(emptyDrain.result).to.include({ moved: 0, remaining: 0 });
    await fixture.plane.tp.catalog.setServerDraining('pg-one', false, TEST_ACTOR);
  });

  it('keeps a region-pinned tenant in its region: a move out is refused, a drain reports it stuck', async () => {
    await adminQuery(control(), "UPDATE servers SET region = 'us' WHERE id = 'pg-one'");
    await adminQuery(control(), "UPDATE tenants SET region = 'eu' WHERE id = 'mover'");
    try {
      const refused = await fixture.admin('POST', '/admin/v1/tenants/mover/moves', { to: 'shard-a' });
      expect(refused.status).to.equal(400);
      expect(refused.body.error.code).to.equal('region_mismatch');
      const cli = await tenantctl('tenants', 'move', 'mover', '--to', 'dedicated', '--server', 'pg-one');
      expect(cli.code).to.equal(2);
      expect(cli.stderr).to.match(/region_mismatch/);
      // pg-two is the only server of region eu: draining it leaves the pinned tenant nowhere to go.
      const dry = await fixture.admin('POST', '/admin/v1/servers/pg-two/drain', { dry_run: true });
      expect(dry.status).to.equal(200);
      expect(dry.body.stuck.map((stuck: { tenant_id: string }) => stuck.tenant_id)).to.deep.equal(['mover']);
      expect(dry.body.stuck[0].error).to.match(/region eu/);
      expect(dry.body.moves.map((step: { tenant_id: string }) => step.tenant_id)).to.include('neighbour');
    } finally {
      await adminQuery(control(), "UPDATE servers SET region = 'eu' WHERE id = 'pg-one'");
      await adminQuery(control(), "UPDATE tenants SET region = NULL WHERE id = 'mover'");
    }
  });
});
