import { expect } from 'chai';
import { callJson } from '../support/http-client.js';
import { addManagedServer } from '../support/managed-admin.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';
import { seedCatalogTenants } from './seed-tenants.js';

const HOUR_MS = 3_600_000;

/** GET /admin/v1/usage/tiers and /admin/v1/fleet/backups-overdue, which the console's Fleet page shows. */
describe('fleet health routes', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let viewer: string;
  const thisHour = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS);
  const hoursAgo = (hours: number) => new Date(thisHour.getTime() - hours * HOUR_MS);

  before(async () => {
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main', 30);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    // cust-00001 and cust-00003 are starter, cust-00002 pro.
    await seedCatalogTenants(plane.tp.catalog.knex, { count: 3, prefix: 'cust', databaseId: 'shard-a' });
    const usage = (tenant_id: string, period_start: Date, requests: number, e4: number, e5: number) => ({
      tenant_id,
      period_start,
      requests,
      errors_4xx: e4,
      errors_5xx: e5,
    });
    await plane.tp.catalog
      .knex('tenant_usage')
      .insert([
        usage('cust-00001', thisHour, 100, 5, 1),
        usage('cust-00003', thisHour, 50, 0, 2),
        usage('cust-00002', thisHour, 40, 4, 0),
        usage('cust-00001', hoursAgo(1), 10, 1, 0),
        usage('cust-00001', hoursAgo(3), 999, 999, 999),
      ]);
    // Starter backed up every minute since an hour ago: cust-00001, created two hours ago with no backup,
    // is overdue; cust-00003, created just now, is not yet; pro has no schedule.
    await plane.tp.catalog
      .knex('backup_schedules')
      .insert({ tier: 'starter', every_seconds: 60, keep_count: 3, updated_at: hoursAgo(1) });
    await plane.tp.catalog
      .knex('tenants')
      .whereIn('id', ['cust-00001', 'cust-00002'])
      .update({ created_at: hoursAgo(2) });
    base = await plane.listen();
    viewer = await plane.mint({ scopes: ['tenantplane:viewer'] });
  });
  after(async () => plane.close());

  it("adds up each tier's requests and errors per hour in the range, oldest hour first", async () => {
    const from = hoursAgo(1).toISOString();
    const answer = await callJson(base, viewer, 'GET', `/admin/v1/usage/tiers?from=${from}`);
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    expect(answer.body.from).to.equal(from);
    expect(answer.body.data).to.deep.equal([
      {
        tier: 'starter',
        period_start: hoursAgo(1).toISOString(),
        requests: 10,
        errors_4xx: 1,
        errors_5xx: 0,
      },
      { tier: 'pro', period_start: thisHour.toISOString(), requests: 40, errors_4xx: 4, errors_5xx: 0 },
      { tier: 'starter', period_start: thisHour.toISOString(), requests: 150, errors_4xx: 5, errors_5xx: 3 },
    ]);
  });

  it('refuses a malformed range with 400 invalid_query', async () => {
    const answer = await callJson(base, viewer, 'GET', '/admin/v1/usage/tiers?from=yesterday');
    expect(answer.status).to.equal(400);
    expect(answer.body.error.code).to.equal('invalid_query');
  });

  it('lists the tenants of scheduled tiers whose backups are overdue', async () => {
    const answer = await callJson(base, viewer, 'GET', '/admin/v1/fleet/backups-overdue');
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    expect(answer.body.data).to.have.length(1);
    expect(answer.body.data[0]).to.include({
      tenant_id: 'cust-00001',
      tier: 'starter',
      last_backup_at: null,
      age_seconds: null,
      every_seconds: 60,
    });
  });
});
