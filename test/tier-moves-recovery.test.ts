import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import { TenantplaneError } from '../src/errors/index.js';
import { createTenantMover } from '../src/moves/move-jobs.js';
import type { MoveProgress } from '../src/moves/tenant-mover.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { moverPlane } from './support/mover-plane.js';
import { SwitchablePort } from './support/switchable-port.js';
import { adminQuery, TEST_ACTOR } from './support/test-plane.js';
import { expectCleanTraffic, expectedRows } from './support/traffic.js';

for (const adminKind of ADMIN_KINDS) {
  describe(`tier move rollback and recovery with a ${adminKind.name}`, function () {
    this.timeout(120000);
    const fixture = moverPlane(adminKind);
    const secondServer = new SwitchablePort();
    after(async () => {
      await secondServer.close();
    });

    it('rolls back a move that fails during the switch: the tenant serves from where it was, with all its rows', async () => {
      const traffic = await fixture.trafficFrom(fixture.shardDb());
      const phases: string[] = [];
      const failure = await createTenantMover(fixture.plane.tp)
        .move('mover', { tier: 'enterprise' }, TEST_ACTOR, async (progress: MoveProgress) => {
          phases.push(progress.phase);
          // Writes are paused and the copy is done: lose the target right before the final re-sync.
          if (progress.phase === 'paused') {
            await adminQuery('postgres', `DROP DATABASE "${fixture.dedicatedDb()}" WITH (FORCE)`);
          }
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      await sleep(300);
      await traffic.stop();

      expect(failure).to.be.instanceOf(Error);
      expect(phases).to.include('paused').and.not.include('switched');
      const tenant = await fixture.plane.tp.catalog.requireTenant('mover');
      expect(tenant).to.include({ tier: 'starter', status: 'active', databaseId: 'shard-one' });
      expect(await fixture.plane.tp.catalog.getDatabase(dedicatedDatabaseId('mover'))).to.equal(undefined);
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal(expectedRows(traffic));
      expectCleanTraffic(traffic);
      // Served again after the rollback.
      const served = await fetch(`${fixture.base}/api/v1/deployments?limit=1`, {
        headers: { authorization: `Bearer ${fixture.token}` },
      });
      expect(served.status).to.equal(200);
    });

    it('leaves the tenant in place when the target server is unreachable, and a re-run completes', async () => {
      // A second registration, the least loaded so the move picks it, whose port then closes.
      await secondServer.open();
      const second = new URL(fixture.adminUrl);
      second.port = String(secondServer.port);
      second.pathname = '/postgres';
      await fixture.plane.tp.servers.add({ id: 'pg-second', adminUrl: second.toString() }, TEST_ACTOR);
      await secondServer.close();
      const before = await fixture.rowsIn(fixture.shardDb());
      const failure = await createTenantMover(fixture.plane.tp)
        .move('mover', { tier: 'enterprise' }, TEST_ACTOR)
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).to.be.instanceOf(TenantplaneError);
      expect((failure as TenantplaneError).code).to.equal('server_unreachable');
      expect(await fixture.plane.tp.catalog.requireTenant('mover')).to.include({
        status: 'active',
        databaseId: 'shard-one',
      });
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal(before);
      expect(await fixture.databaseExists(fixture.dedicatedDb())).to.equal(false);

      await secondServer.open();
      const rerun = await fixture.admin('PATCH', '/admin/v1/tenants/mover', { tier: 'enterprise' });
      expect(rerun.status).to.equal(202);
      const job = await fixture.waitForJob(rerun.body.job_id);
      expect(job.state, job.error).to.equal('completed');
      expect(await fixture.rowsIn(fixture.dedicatedDb())).to.deep.equal(before);
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal([]);
      expect(await fixture.plane.tp.catalog.getDatabase(dedicatedDatabaseId('mover'))).to.include({
        serverId: 'pg-second',
        status: 'ready',
      });
    });

    it('rolls back a move its process abandoned mid-switch when the tenant is moved again', async () => {
      // Where the test before leaves it; moved there when this test runs alone.
      await fixture.moverOn('enterprise');
      const before = await fixture.rowsIn(fixture.dedicatedDb());
      await fixture.crashMoveAt('paused', 'pro');
      expect(await fixture.plane.tp.catalog.requireTenant('mover')).to.include({ status: 'moving' });
      const refused = await fetch(`${fixture.base}/api/v1/deployments?limit=1`, {
        headers: { authorization: `Bearer ${fixture.token}` },
      });
      expect([refused.status, Boolean(refused.headers.get('retry-after'))]).to.deep.equal([503, true]);

      const result = await createTenantMover(fixture.plane.tp).move('mover', { tier: 'pro' }, TEST_ACTOR);
      expect(result.moved).to.equal(true);
      expect(await fixture.plane.tp.catalog.requireTenant('mover')).to.include({
        tier: 'pro',
        status: 'active',
        databaseId: 'shard-one',
      });
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal(before);
      expect(await fixture.databaseExists(fixture.dedicatedDb())).to.equal(false);
      const recovered = await adminQuery(
        `${fixture.plane.prefix}_control`,
        "SELECT details FROM audit_log WHERE tenant_id = 'mover' AND action = 'tenant.move_recovered' ORDER BY id DESC LIMIT 1",
      );
      expect(recovered.rows[0]?.details).to.deep.include({ state: 'copying', to: 'shard-one' });
    });

    it('finishes a move whose process died after the switch: the next move removes the old rows', async () => {
      // On the shard at starter: after the test before, a change of the catalog; run alone, nothing.
      await fixture.moverOn('starter');
      const before = await fixture.rowsIn(fixture.shardDb());
      await fixture.crashMoveAt('switched', 'enterprise');
      // Switched: served from the new database, while the shard still holds the old copy.
      expect(await fixture.plane.tp.catalog.requireTenant('mover')).to.include({
        tier: 'enterprise',
        status: 'active',
        databaseId: dedicatedDatabaseId('mover'),
      });
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal(before);

      const result = await createTenantMover(fixture.plane.tp).move(
        'mover',
        { tier: 'enterprise' },
        TEST_ACTOR,
      );
      expect(result.moved).to.equal(false);
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal([]);
      expect(await fixture.rowsIn(fixture.dedicatedDb())).to.deep.equal(before);
      expect(
        (await adminQuery(`${fixture.plane.prefix}_control`, 'SELECT 1 FROM tenant_moves')).rowCount,
      ).to.equal(0);
    });
  });
}
