import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { TenantplaneError } from '../src/errors/index.js';
import { createTenantMover } from '../src/moves/move-jobs.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { moverPlane } from './support/mover-plane.js';
import { TEST_ACTOR } from './support/test-plane.js';

for (const adminKind of ADMIN_KINDS) {
  describe(`tier changes and tenant status with a ${adminKind.name}`, function () {
    this.timeout(120000);
    const fixture = moverPlane(adminKind, 'enterprise');

    it('moves a suspended tenant and leaves it suspended', async () => {
      const before = await fixture.rowsIn(fixture.dedicatedDb());
      await fixture.plane.tp.tenants.setStatus('mover', 'suspended', TEST_ACTOR);
      const result = await createTenantMover(fixture.plane.tp).move('mover', { tier: 'starter' }, TEST_ACTOR);
      expect(result.moved).to.equal(true);
      expect(await fixture.plane.tp.catalog.requireTenant('mover')).to.include({
        tier: 'starter',
        status: 'suspended',
        databaseId: 'shard-one',
      });
      expect(await fixture.rowsIn(fixture.shardDb())).to.deep.equal(before);
      await fixture.plane.tp.tenants.setStatus('mover', 'active', TEST_ACTOR);
    });

    it('changes tier without moving between tiers of the same placement (200, no job)', async () => {
      // On the shard at pro: a change of the catalog after the test before, a move when this test runs alone.
      await fixture.moverOn('pro');
      const response = await fixture.admin('PATCH', '/admin/v1/tenants/mover', { tier: 'starter' });
      expect(response.status).to.equal(200);
      expect(response.body).to.include({ tier: 'starter', status: 'active' });
    });

    it('refuses a statement on a handle taken before the tenant was paused, and serves it again after', async () => {
      // On the shard, where the tests before leave it; moved there when this test runs alone.
      await fixture.moverOn('starter');
      const router = fixture.plane.tp.router;
      const handle = await router.forTenant('mover');
      await handle.query('SELECT 1');
      await fixture.plane.tp.catalog.updateTenant('mover', { status: 'moving' });
      // The pause reaches the router through NOTIFY.
      while (
        (await router.forTenant('mover').then(
          () => 'served',
          (error: TenantplaneError) => error.code,
        )) === 'served'
      ) {
        await sleep(20);
      }
      const refused = await handle.query('SELECT 1').then(
        () => 'served',
        (error: TenantplaneError) => `${error.code} ${error.status}`,
      );
      expect(refused).to.equal('tenant_moving 503');
      await fixture.plane.tp.catalog.updateTenant('mover', { status: 'active' });
      while (
        (await router.forTenant('mover').then(
          () => 'served',
          () => 'refused',
        )) === 'refused'
      )
        await sleep(20);
      expect((await handle.query<{ one: number }>('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    });
  });
}
