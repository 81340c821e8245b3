import { expect } from 'chai';
import { callJson } from './support/http-client.js';
import { addManagedServer } from './support/managed-admin.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** How many rows `path` lists for the token's tenant, counted through the application API itself. */
async function count(base: string, token: string, path: string): Promise<number> {
  const answer = await callJson(base, token, 'GET', `${path}?limit=100`);
  expect(answer.status).to.equal(200);
  return answer.body.data.length;
}

describe('Tenant roles on the application API (managed-PostgreSQL admin)', function () {
  // Provisioning a tenant on a busy machine outlasts mocha's default.
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  const tokens: Record<string, string> = {};
  let row: { id: string; project_name: string };

  before(async () => {
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
    base = await plane.listen();
    tokens.default = await plane.mint({ tenantId: 'acme' });
    for (const role of ['admin', 'member', 'viewer', 'owner']) {
      tokens[role] = await plane.mint({ tenantId: 'acme', tenantRole: role });
    }
    const created = await callJson(base, tokens.default, 'POST', '/api/v1/deployments', {
      project_name: 'web',
      status: 'ready',
    });
    expect(created.status).to.equal(201);
    row = created.body;
  });
  after(async () => plane.close());

  it('lets admin, member and a token without tenant_role read and write', async () => {
    for (const role of ['default', 'admin', 'member']) {
      const created = await callJson(base, tokens[role], 'POST', '/api/v1/workflows', {
        name: `by-${role}`,
        status: 'ready',
      });
      expect(created.status, role).to.equal(201);
      const changed = await callJson(base, tokens[role], 'PATCH', `/api/v1/workflows/${created.body.id}`, {
        status: 'done',
      });
      expect(changed.status, role).to.equal(200);
      const removed = await callJson(base, tokens[role], 'DELETE', `/api/v1/workflows/${created.body.id}`);
      expect(removed.status, role).to.be.oneOf([200, 204]);
    }
  });

  it('lets a viewer read, and refuses its writes with 403 read_only_role, changing nothing', async () => {
    const list = await callJson(base, tokens.viewer, 'GET', '/api/v1/deployments');
    expect(list.status).to.equal(200);
    expect(list.body.data.map((r: { id: string }) => r.id)).to.include(row.id);
    const one = await callJson(base, tokens.viewer, 'GET', `/api/v1/deployments/${row.id}`);
    expect(one.status).to.equal(200);

    const before = await count(base, tokens.default, '/api/v1/deployments');
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/api/v1/deployments', { project_name: 'sneaky', status: 'ready' }],
      ['PATCH', `/api/v1/deployments/${row.id}`, { project_name: 'renamed' }],
      ['PUT', `/api/v1/deployments/${row.id}`, { project_name: 'renamed', status: 'ready' }],
      ['DELETE', `/api/v1/deployments/${row.id}`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const answer = await callJson(base, tokens.viewer, method, path, body);
      expect(answer.status, `${method} ${path}`).to.equal(403);
      expect(answer.body.error.code, `${method} ${path}`).to.equal('read_only_role');
    }
    expect(await count(base, tokens.default, '/api/v1/deployments')).to.equal(before);
    const after = await callJson(base, tokens.default, 'GET', `/api/v1/deployments/${row.id}`);
    expect(after.body.project_name).to.equal(row.project_name);
  });

  it('refuses every request of a tenant_role it does not know with 403 unknown_tenant_role', async () => {
    for (const method of ['GET', 'POST']) {
      const answer = await callJson(
        base,
        tokens.owner,
        method,
        '/api/v1/deployments',
        method === 'POST' ? { project_name: 'x', status: 'ready' } : undefined,
      );
      expect(answer.status, method).to.equal(403);
      expect(answer.body.error.code, method).to.equal('unknown_tenant_role');
      // The claim's value is not echoed back.
      expect(answer.body.error.message).to.not.include('owner');
    }
  });
});
