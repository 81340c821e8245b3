import { expect } from 'chai';
import { type ApiTenants, openApiTenants } from './support/api-tenants.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

describe('HTTP API: admin tenant API and health', () => {
  let plane: TestPlane;
  let base: string;
  let tokens: ApiTenants['tokens'];
  let call: ApiTenants['call'];

  before(async () => {
    ({ plane, base, tokens, call } = await openApiTenants());
  });
  after(async () => plane.close());

  it('serves the admin tenant API, and a suspension takes effect at once', async () => {
    const created = await call('admin', 'POST', '/admin/v1/tenants', {
      id: 'delta-co',
      name: 'Delta',
      tier: 'pro',
    });
    expect(created.status).to.equal(201);
    expect(created.body).to.include({ id: 'delta-co', tier: 'pro', status: 'active' });
    expect(created.body.placement.kind).to.equal('shard');
    const duplicate = await call('admin', 'POST', '/admin/v1/tenants', { id: 'delta-co', tier: 'pro' });
    expect([duplicate.status, duplicate.body.error.code]).to.deep.equal([409, 'tenant_exists']);
    const invalid = await call('admin', 'POST', '/admin/v1/tenants', { id: 'Bad;Id', tier: 'pro' });
    expect([invalid.status, invalid.body.error.code]).to.deep.equal([400, 'invalid_id']);
    const badTier = await call('admin', 'POST', '/admin/v1/tenants', { id: 'echo-co', tier: 'gold' });
    expect([badTier.status, badTier.body.error.code]).to.deep.equal([400, 'unknown_tier']);

    tokens['delta-co'] = await plane.mint({ tenantId: 'delta-co' });
    expect((await call('delta-co', 'GET', '/api/v1/deployments')).status).to.equal(200);
    const suspended = await call('admin', 'PATCH', '/admin/v1/tenants/delta-co', { status: 'suspended' });
    expect([suspended.status, suspended.body.status]).to.deep.equal([200, 'suspended']);
    const refused = await call('delta-co', 'GET', '/api/v1/deployments');
    expect([refused.status, refused.body.error.code]).to.deep.equal([403, 'tenant_suspended']);
    await call('admin', 'PATCH', '/admin/v1/tenants/delta-co', { status: 'active' });
    const upgraded = await call('admin', 'PATCH', '/admin/v1/tenants/delta-co', { tier: 'starter' });
    expect(upgraded.body.tier).to.equal('starter');

    const list = await call('admin', 'GET', '/admin/v1/tenants?limit=2');
    expect(list.body.data.map((tenant: { id: string }) => tenant.id)).to.deep.equal(['alpha', 'bravo']);
    const next = await call('admin', 'GET', `/admin/v1/tenants?limit=10&cursor=${list.body.next_cursor}`);
    expect(next.body.data.map((tenant: { id: string }) => tenant.id)).to.deep.equal(['corp', 'delta-co']);

    const removed = await call('admin', 'DELETE', '/admin/v1/tenants/delta-co');
    expect([removed.status, removed.body.status]).to.deep.equal([200, 'deleted']);
    expect((await call('admin', 'GET', '/admin/v1/tenants/delta-co')).status).to.equal(404);
    expect((await call('delta-co', 'GET', '/api/v1/deployments')).status).to.equal(403);
  });

  it('reports health and readiness', async () => {
    expect((await fetch(`${base}/health`)).status).to.equal(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).to.equal(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.control_database).to.equal(
      'ok',
    );
  });
});

describe('readiness', () => {
  let plane: TestPlane;

  before(async () => {
    // Nothing listens on port 1: Redis is configured but unreachable.
    plane = await createTestPlane({}, { REDIS_URL: 'redis://127.0.0.1:1' });
  });
  after(async () => plane.close());

  it('stays ready but reports itself degraded while a configured Redis is unreachable', async () => {
    // Every instance shares that Redis: failing readiness would take them all out of the load balancer.
    const base = await plane.listen();
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).to.equal(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).to.equal('degraded');
    expect(body.checks).to.include({
      control_database: 'ok',
      redis: 'unreachable',
      rate_limit: 'degraded_local',
    });
    expect((await fetch(`${base}/health`)).status).to.equal(200);
  });
});
