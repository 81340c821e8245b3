import { expect } from 'chai';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { runTenantctl } from './support/tenantctl.js';
import { adminQuery, TEST_ACTOR } from './support/test-plane.js';
import { expectCleanTraffic, expectedRows } from './support/traffic.js';
import { type ServerId, twoServers } from './support/two-servers.js';

/**
 * Every kind of move between placements on two servers, each under HTTP creates, updates and deletes:
 * shard → shard on the same server, shard → shard on another, shard → dedicated, dedicated → dedicated on
 * another server, dedicated → shard. The suite runs in order, each move from where the one before left it.
 */
for (const adminKind of ADMIN_KINDS) {
  describe(`moves between any placements with a ${adminKind.name}`, function () {
    this.timeout(120000);
    const fixture = twoServers(adminKind);

    /** Moves `mover` under traffic through the admin API and checks everything a move promises. */
    async function moveUnderTraffic(body: { to: string; server?: string }) {
      const before = await fixture.placementOf();
      const traffic = await fixture.traffic();
      const answer = await fixture.admin('POST', '/admin/v1/tenants/mover/moves', body);
      expect(answer.status, JSON.stringify(answer.body)).to.equal(202);
      const job = await fixture.waitForJob(answer.body.job_id);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await traffic.stop();

      expect(job.state, job.error).to.equal('completed');
      expect(job.result).to.include({ moved: true, tenant_id: 'mover', cutover: 'captured' });
      expectCleanTraffic(traffic);
      const after = await fixture.placementOf();
      expect(after.databaseId).to.not.equal(before.databaseId);
      expect(await fixture.rowsIn(after.server, after.databaseName)).to.deep.equal(expectedRows(traffic));
      const tenant = await fixture.plane.tp.catalog.requireTenant('mover');
      expect(tenant.status).to.equal('active');
      expect(tenant.tier, 'a move keeps the tier').to.equal('starter');
      const moves = await adminQuery(`${fixture.plane.prefix}_control`, 'SELECT * FROM tenant_moves');
      expect(moves.rowCount, 'the move ledger is empty').to.equal(0);
      expect(await fixture.neighbourRows(), 'the neighbour’s rows').to.deep.equal(fixture.neighbourBefore);
      return { before, after, result: job.result };
    }

    async function leftBehind(server: ServerId, databaseName: string) {
      const exists = await fixture.query(server, 'postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
        databaseName,
      ]);
      if (exists.rowCount === 0) return { exists: false, rows: 0, triggers: [] as string[] };
      return {
        exists: true,
        rows: (await fixture.rowsIn(server, databaseName)).length,
        triggers: await fixture.captureTriggers(server, databaseName),
      };
    }

    it('moves a tenant to another shard on the same server', async () => {
      const { before, after } = await moveUnderTraffic({ to: 'shard-b' });
      expect(before.databaseId).to.equal('shard-a');
      expect(after).to.include({ databaseId: 'shard-b', server: 'pg-one' });
      expect(await leftBehind('pg-one', before.databaseName)).to.deep.equal({
        exists: true,
        rows: 0,
        triggers: [],
      });
    });

    it('moves it to a shard on another server', async () => {
      const { before, after } = await moveUnderTraffic({ to: 'shard-c' });
      expect(after).to.include({ databaseId: 'shard-c', server: 'pg-two' });
      expect(await leftBehind('pg-one', before.databaseName)).to.deep.equal({
        exists: true,
        rows: 0,
        triggers: [],
      });
    });

    it('moves it from a shard to a database of its own on a chosen server', async () => {
      const { before, after } = await moveUnderTraffic({ to: 'dedicated', server: 'pg-one' });
      expect(after).to.include({ databaseId: 'tenant:mover', server: 'pg-one' });
      expect(await leftBehind('pg-two', before.databaseName)).to.deep.equal({
        exists: true,
        rows: 0,
        triggers: [],
      });
    });

    it('moves its own database to another server', async () => {
      const { before, after } = await moveUnderTraffic({ to: 'dedicated' });
      expect(after, 'placement picks the other server').to.include({
        databaseId: 'tenant:mover:2',
        server: 'pg-two',
      });
      expect(after.databaseName).to.equal(`${fixture.plane.prefix}_t_mover_2`);
      expect((await leftBehind('pg-one', before.databaseName)).exists, 'the old database').to.equal(false);
    });

    it('moves it back onto a shard with `tenantctl tenants move --json`', async () => {
      const before = await fixture.placementOf();
      const traffic = await fixture.traffic();
      const cli = await runTenantctl(
        fixture.plane.cliEnv(),
        'tenants',
        'move',
        'mover',
        '--to',
        'shard-a',
        '--json',
      );
      await traffic.stop();
      expect(cli.code, cli.stderr).to.equal(0);
      const summary = JSON.parse(cli.stdout);
      expect(Object.keys(summary).sort()).to.deep.equal(
        ['duration_ms', 'from', 'pause_ms', 'rows_copied', 'tenant_id', 'to'].sort(),
      );
      expect(summary).to.include({ tenant_id: 'mover', from: 'tenant:mover:2', to: 'shard-a' });
      expectCleanTraffic(traffic);
      expect(await fixture.rowsIn('pg-one', `${fixture.plane.prefix}_s_shard_a`)).to.deep.equal(
        expectedRows(traffic),
      );
      expect((await leftBehind('pg-two', before.databaseName)).exists).to.equal(false);
    });

    it('refuses an unknown destination, a server with a shard, and a move where it is (no-op)', async () => {
      const unknown = await fixture.admin('POST', '/admin/v1/tenants/mover/moves', { to: 'shard-zz' });
      expect(unknown.status).to.equal(400);
      expect(unknown.body.error.code).to.equal('unknown_target');
      const mixed = await fixture.admin('POST', '/admin/v1/tenants/mover/moves', {
        to: 'shard-b',
        server: 'pg-two',
      });
      expect(mixed.status).to.equal(400);
      const extra = await fixture.admin('POST', '/admin/v1/tenants/mover/moves', { to: 'shard-b', speed: 1 });
      expect(extra.status).to.equal(400);
      const cli = await runTenantctl(fixture.plane.cliEnv(), 'tenants', 'move', 'mover', '--to', 'Bad!');
      expect(cli.code).to.equal(2);
      const here = await fixture.admin('POST', '/admin/v1/tenants/mover/moves', { to: 'shard-a' });
      expect(here.status).to.equal(202);
      const job = await fixture.waitForJob(here.body.job_id);
      expect(job.result).to.include({ moved: false });
    });

    it('deletes a tenant whose own database a move took to another server, dropping that database', async () => {
      await fixture.plane.tp.tenants.create({ id: 'leaver', tier: 'enterprise' }, TEST_ACTOR);
      const first = await fixture.placementOf('leaver');
      const other: ServerId = first.server === 'pg-one' ? 'pg-two' : 'pg-one';
      await fixture.plane.tp.mover.move('leaver', { dedicated: { server: other } }, TEST_ACTOR);
      const moved = await fixture.placementOf('leaver');
      expect(moved).to.include({ databaseId: 'tenant:leaver:2', server: other });
      await fixture.plane.tp.tenants.delete({ id: 'leaver', confirm: 'leaver' }, TEST_ACTOR);
      expect((await leftBehind(other, moved.databaseName)).exists, 'its database').to.equal(false);
      expect(await fixture.plane.tp.catalog.getDatabase('tenant:leaver:2')).to.equal(undefined);
    });
  });
}
