import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { moverPlane } from './support/mover-plane.js';
import { adminQuery } from './support/test-plane.js';
import { expectCleanTraffic, expectedRows } from './support/traffic.js';

const run = promisify(execFile);

for (const adminKind of ADMIN_KINDS) {
  describe(`tier moves under traffic with a ${adminKind.name}`, function () {
    this.timeout(120000);
    const fixture = moverPlane(adminKind);

    it('moves a shard tenant to its own database while requests run, losing no acknowledged row', async () => {
      const traffic = await fixture.trafficFrom(fixture.shardDb());
      const first = await fixture.admin('PATCH', '/admin/v1/tenants/mover', { tier: 'enterprise' });
      const again = await fixture.admin('PATCH', '/admin/v1/tenants/mover', { tier: 'enterprise' });
      expect(first.status).to.equal(202);
      expect(again.body, 'the same request twice is one job').to.deep.equal(first.body);
      const job = await fixture.waitForJob(first.body.job_id);
      await sleep(300);
      await traffic.stop();

      expect(job.state, job.error).to.equal('completed');
      expect(job.result).to.include({ moved: true, tenant_id: 'mover' });
      expect(job.result.rows_copied).to.be.at.least(3000);
      expect(traffic.count(503), 'requests refused during the pause').to.be.greaterThan(0);
      expectCleanTraffic(traffic);

      const tenant = await fixture.admin('GET', '/admin/v1/tenants/mover');
      expect(tenant.body).to.deep.include({ tier: 'enterprise', status: 'active' });
      expect(tenant.body.placement).to.include({ kind: 'dedicated', database_name: fixture.dedicatedDb() });
      expect(await fixture.rowsIn(fixture.dedicatedDb())).to.deep.equal(expectedRows(traffic));
      expect(await fixture.rowsIn(fixture.shardDb()), 'rows left on the shard').to.deep.equal([]);
      expect(await fixture.neighbourRows(), 'the neighbour’s rows').to.deep.equal(fixture.neighbourBefore);
      const moves = await adminQuery(`${fixture.plane.prefix}_control`, 'SELECT * FROM tenant_moves');
      expect(moves.rowCount).to.equal(0);
      const audit = await adminQuery<{ action: string }>(
        `${fixture.plane.prefix}_control`,
        "SELECT action FROM audit_log WHERE tenant_id = 'mover' AND action LIKE 'tenant.move%' ORDER BY id",
      );
      expect(audit.rows.map((row) => row.action)).to.deep.equal([
        'tenant.move_requested',
        'tenant.move_requested',
        'tenant.move',
      ]);
    });

    it('moves it back to a shard with `tenantctl tenants set-tier`, showing progress, while requests run', async () => {
      // Where the test before leaves it; moved there when this test runs alone.
      await fixture.moverOn('enterprise');
      const traffic = await fixture.trafficFrom(fixture.dedicatedDb());
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'tenants', 'set-tier', 'mover', 'starter'],
        { env: fixture.plane.cliEnv() },
      );
      await sleep(300);
      await traffic.stop();

      expect(stdout).to.match(/moving mover to tier starter \(job tenant-move\.mover\.starter\.\d+\)/);
      expect(stdout).to.match(/writes paused/);
      expect(stdout).to.match(/tenant mover is now on tier starter in shard-one/);
      expect(traffic.count(503)).to.be.greaterThan(0);
      expectCleanTraffic(traffic);
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal(expectedRows(traffic));
      expect(await fixture.databaseExists(fixture.dedicatedDb()), 'old dedicated database').to.equal(false);
      expect(await fixture.neighbourRows()).to.deep.equal(fixture.neighbourBefore);
      const tenant = await fixture.plane.tp.catalog.requireTenant('mover');
      expect(tenant).to.include({ tier: 'starter', status: 'active', databaseId: 'shard-one' });
    });
  });
}
