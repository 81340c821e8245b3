import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { adminQuery, TEST_ACTOR, type TestPlane } from './test-plane.js';

/**
 * Creates a starter tenant on the plane's shard, opens a write of it through the router that has passed
 * its checks, deletes the tenant while the write is still open, and checks that the delete waited for it:
 * no row of the write survives.
 */
export async function expectDeleteDrainsWrite(plane: TestPlane, tenantId: string): Promise<void> {
  await plane.tp.tenants.create({ id: tenantId, tier: 'starter' }, TEST_ACTOR);
  const placed = await plane.tp.catalog.requireTenant(tenantId);
  const shard = (await plane.tp.catalog.getDatabase(placed.databaseId!))!.databaseName;
  const db = await plane.tp.router.forTenant(tenantId);
  let commit!: () => void;
  const gate = new Promise<void>((resolve) => {
    commit = resolve;
  });
  let inserted!: () => void;
  const insertedYet = new Promise<void>((resolve) => {
    inserted = resolve;
  });
  const writing = db.transaction(async (trx) => {
    await trx.knex('deployments').insert({ tenant_id: tenantId, project_name: 'late', status: 'ready' });
    inserted();
    await gate;
  });
  await insertedYet;
  const deleting = plane.tp.tenants.delete({ id: tenantId, confirm: tenantId }, TEST_ACTOR);
  // The delete waits for the write in flight, however long it takes.
  await sleep(1500);
  commit();
  await writing;
  await deleting;
  const left = await adminQuery<{ n: number }>(
    shard,
    'SELECT count(*)::int AS n FROM deployments WHERE tenant_id = $1',
    [tenantId],
  );
  expect(left.rows[0]!.n).to.equal(0);
}
