import { expect } from 'chai';
import { callJson } from './support/http-client.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('quotas', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    plane = await createTestPlane();
    // Small quotas so the test reaches them; set before any route is cached.
    await plane.tp.knex('tiers').where({ id: 'starter' }).update({ max_deployments: 5, max_workflows: 3 });
    await plane.tp.knex('tiers').where({ id: 'pro' }).update({ max_storage_bytes: 4000 });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    for (const [id, tier] of [
      ['small', 'starter'],
      ['racer', 'starter'],
      ['heavy', 'pro'],
      ['corp', 'enterprise'],
    ] as const) {
      await plane.tp.tenants.create({ id, tier }, TEST_ACTOR);
      tokens[id] = await plane.mint({ tenantId: id });
    }
    tokens.admin = await plane.mint({ admin: true });
    base = await plane.listen();
  });
  after(async () => plane.close());

  it('refuses a create past the quota with 403 quota_exceeded, its limit and usage', async () => {
    for (let index = 0; index < 3; index++) {
      const created = await callJson(base, tokens.small, 'POST', '/api/v1/workflows', {
        name: `flow-${index}`,
        status: 'active',
      });
      expect(created.status).to.equal(201);
    }
    const refused = await callJson(base, tokens.small, 'POST', '/api/v1/workflows', {
      name: 'one-too-many',
      status: 'active',
    });
    expect(refused.status).to.equal(403);
    expect(refused.body.error).to.include({ code: 'quota_exceeded', quota: 'workflows', limit: 3, usage: 3 });
    // Deployments have their own quota, still open.
    const deployment = await callJson(base, tokens.small, 'POST', '/api/v1/deployments', {
      project_name: 'web',
      status: 'ready',
    });
    expect(deployment.status).to.equal(201);
    // Deleting makes room again.
    const list = await callJson(base, tokens.small, 'GET', '/api/v1/workflows');
    expect(
      (await callJson(base, tokens.small, 'DELETE', `/api/v1/workflows/${list.body.data[0].id}`)).status,
    ).to.equal(204);
    const again = await callJson(base, tokens.small, 'POST', '/api/v1/workflows', { name: 'x', status: 'a' });
    expect(again.status).to.equal(201);
  });

  it('keeps its pooled connections when it refuses a create', async () => {
    const shard = (await plane.tp.catalog.getDatabase('shard-one'))!;
    const backends = async () =>
      (
        await adminQuery<{ pid: number }>(
          'postgres',
          'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND usename <> current_user',
          [shard.databaseName],
        )
      ).rows.map((row) => row.pid);
    const before = await backends();
    expect(before).to.not.be.empty;
    for (let index = 0; index < 5; index++) {
      const refused = await callJson(base, tokens.small, 'POST', '/api/v1/workflows', {
        name: 'n',
        status: 'a',
      });
      expect(refused.status).to.equal(403);
    }
    const after = await backends();
    // The same backends, none closed and none opened in their place.
    expect(after.sort()).to.deep.equal(before.sort());
  });

  it('lets exactly the quota through when creates race', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        callJson(base, tokens.racer, 'POST', '/api/v1/deployments', {
          project_name: `p${index}`,
          status: 'new',
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 201)).to.have.length(5);
    expect(statuses.filter((status) => status === 403)).to.have.length(15);
    const list = await callJson(base, tokens.racer, 'GET', '/api/v1/deployments?limit=100');
    expect(list.body.data).to.have.length(5);
  });

  it('applies the storage quota across tables', async () => {
    const big = { blob: 'x'.repeat(1500) };
    const statuses: number[] = [];
    for (let index = 0; index < 4; index++) {
      const answer = await callJson(base, tokens.heavy, 'POST', '/api/v1/workflows', {
        name: `big-${index}`,
        status: 'active',
        config: big,
      });
      statuses.push(answer.status);
      if (answer.status === 403) {
        expect(answer.body.error).to.include({ code: 'quota_exceeded', quota: 'storage_bytes', limit: 4000 });
        expect(answer.body.error.usage).to.be.at.least(4000);
      }
    }
    // Each row is a little over 1.5 kB: the third create starts above 3 kB, the fourth above 4 kB.
    expect(statuses).to.deep.equal([201, 201, 201, 403]);
    const refusedDeployment = await callJson(base, tokens.heavy, 'POST', '/api/v1/deployments', {
      project_name: 'web',
      status: 'ready',
    });
    expect(refusedDeployment.status).to.equal(403);
  });

  it('never limits a tier without quotas', async () => {
    for (let index = 0; index < 8; index++) {
      const created = await callJson(base, tokens.corp, 'POST', '/api/v1/deployments', {
        project_name: `p${index}`,
        status: 'new',
      });
      expect(created.status).to.equal(201);
    }
  });

  it('shows usage and limits per tenant in the admin API', async () => {
    const small = await callJson(base, tokens.admin, 'GET', '/admin/v1/tenants/small');
    expect(small.status).to.equal(200);
    expect(small.body.limits).to.deep.equal({
      requests_per_minute: 600,
      users: 10,
      deployments: 5,
      workflows: 3,
      storage_bytes: 104857600,
    });
    expect(small.body.usage).to.include({ users: 0, deployments: 1, workflows: 3 });
    expect(small.body.usage.storage_bytes).to.be.above(0);
    const corp = await callJson(base, tokens.admin, 'GET', '/admin/v1/tenants/corp');
    expect(corp.body.usage).to.include({ deployments: 8, workflows: 0 });
    expect(corp.body.limits).to.include({ deployments: null, storage_bytes: null });
  });
});
