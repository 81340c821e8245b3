import { expect } from 'chai';
import { callJson } from '../support/http-client.js';
import { addManagedServer } from '../support/managed-admin.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';
import { seedCatalogTenants } from './seed-tenants.js';

/** GET /admin/v1/fleet/servers and /fleet/shards, which the console's Fleet page shows. */
describe('fleet routes', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let viewer: string;

  before(async () => {
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main', 30);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.shards.add({ id: 'shard-b', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'big-co', tier: 'enterprise' }, TEST_ACTOR);
    await seedCatalogTenants(plane.tp.catalog.knex, { count: 5, prefix: 'cust', databaseId: 'shard-a' });
    // Sizes as a rebalance records them; one for a tenant measured on shard-a that has since left it.
    await plane.tp.catalog.knex('tenant_sizes').insert([
      { tenant_id: 'cust-00001', database_id: 'shard-a', bytes: 1000 },
      { tenant_id: 'cust-00002', database_id: 'shard-a', bytes: 500 },
      { tenant_id: 'big-co', database_id: 'shard-a', bytes: 7000 },
    ]);
    await plane.tp.catalog.knex('tenants').where({ id: 'cust-00005' }).update({ status: 'deleted' });
    base = await plane.listen();
    viewer = await plane.mint({ scopes: ['tenantplane:viewer'] });
  });
  after(async () => plane.close());

  it("shows each server's placements and its router budget divided among the live instances", async () => {
    const answer = await callJson(base, viewer, 'GET', '/admin/v1/fleet/servers');
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    const [server] = answer.body.data;
    expect(server).to.include({
      id: 'pg-main',
      draining: false,
      max_connections: 30,
      router_budget: 24,
      shards: 2,
      dedicated_databases: 1,
      tenants: 5,
    });
    // The test plane is the one live serving instance: it holds the whole router budget.
    expect(server.instances).to.have.length(1);
    expect(server.instances[0]).to.include({ kind: 'serve', may_hold: 24 });
    expect(server.router_budget_assigned).to.equal(24);
  });

  it('shows each shard with its live tenants and the bytes measured while they were on it', async () => {
    const answer = await callJson(base, viewer, 'GET', '/admin/v1/fleet/shards');
    expect(answer.status).to.equal(200);
    expect(answer.body.data).to.deep.equal([
      { id: 'shard-a', server_id: 'pg-main', status: 'ready', tenants: 4, bytes: 1500 },
      { id: 'shard-b', server_id: 'pg-main', status: 'ready', tenants: 0, bytes: 0 },
    ]);
  });
});
