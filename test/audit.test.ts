import { expect } from 'chai';
import { callJson } from './support/http-client.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

interface AuditRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  tenant_id: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

describe('audit log', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let admin: string;

  async function adminCall(method: string, path: string, requestId: string, body?: unknown) {
    const answer = await callJson(base, admin, method, path, body, { 'x-request-id': requestId });
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).to.be.below(300);
    return answer;
  }

  async function everything(query = ''): Promise<AuditRow[]> {
    return (await callJson(base, admin, 'GET', `/admin/v1/audit?limit=500${query}`)).body.data;
  }

  before(async () => {
    plane = await createTestPlane();
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    base = await plane.listen();
    admin = await plane.mint({ admin: true, subject: 'ops-alice' });
  });
  after(async () => plane.close());

  it('records every admin action with who, when, what and the request id', async () => {
    const started = Date.now();
    await adminCall('POST', '/admin/v1/tenants', 'req-create', { id: 'acme', tier: 'starter' });
    await adminCall('PATCH', '/admin/v1/tenants/acme', 'req-tier', { tier: 'pro' });
    await adminCall('PATCH', '/admin/v1/tenants/acme', 'req-suspend', { status: 'suspended' });
    await adminCall('PATCH', '/admin/v1/tenants/acme', 'req-resume', { status: 'active' });
    await adminCall('PATCH', '/admin/v1/tenants/acme', 'req-rename', { name: 'Acme Ltd' });
    await adminCall('PATCH', '/admin/v1/tenants/acme', 'req-limit', { requests_per_minute: 42 });
    const run = await adminCall('POST', '/admin/v1/migrations/runs', 'req-migrate', {});
    await plane.tp.jobs.wait('migration-run', run.body.job_id);
    await adminCall('DELETE', '/admin/v1/tenants/acme', 'req-delete');

    const rows = (await everything()).filter((row) => row.request_id?.startsWith('req-'));
    expect(rows.map((row) => [row.action, row.request_id])).to.deep.equal([
      ['tenant.delete', 'req-delete'],
      ['migration.run', 'req-migrate'],
      ['tenant.set_limits', 'req-limit'],
      ['tenant.rename', 'req-rename'],
      ['tenant.resume', 'req-resume'],
      ['tenant.suspend', 'req-suspend'],
      ['tenant.set_tier', 'req-tier'],
      ['tenant.create', 'req-create'],
    ]);
    for (const row of rows) {
      expect(row.actor).to.equal('token:ops-alice');
      expect(Date.parse(row.at)).to.be.within(started - 5000, Date.now() + 5000);
      expect(row.tenant_id).to.equal(row.action === 'migration.run' ? null : 'acme');
    }
    const byAction = Object.fromEntries(rows.map((row) => [row.action, row.details]));
    expect(byAction['tenant.set_tier']).to.deep.equal({ from: 'starter', to: 'pro' });
    expect(byAction['tenant.rename']).to.deep.equal({ from: 'acme', to: 'Acme Ltd' });
    expect(byAction['tenant.set_limits']).to.deep.equal({ requests_per_minute: { from: null, to: 42 } });
    expect(byAction['migration.run']).to.include({ direction: 'up', jobId: run.body.job_id });
  });

  it('pages newest first with an opaque cursor, optionally for one tenant', async () => {
    await adminCall('POST', '/admin/v1/tenants', 'req-b', { id: 'bravo', tier: 'starter' });
    await adminCall('PATCH', '/admin/v1/tenants/bravo', 'req-b2', { status: 'suspended' });
    const all = await everything();
    expect(all.length).to.be.at.least(10);
    const ids = all.map((row) => Number(row.id));
    expect(ids).to.deep.equal([...ids].sort((a, b) => b - a));

    const paged: AuditRow[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await callJson(base, admin, 'GET', `/admin/v1/audit?limit=3${query}`);
      expect(page.status).to.equal(200);
      expect(page.body.data.length).to.be.at.most(3);
      paged.push(...page.body.data);
      cursor = page.body.next_cursor;
      if (cursor) expect(cursor).to.not.match(/^\d+$/);
    } while (cursor);
    expect(paged.map((row) => row.id)).to.deep.equal(all.map((row) => row.id));

    const bravo = await everything('&tenant=bravo');
    expect(bravo.map((row) => row.action)).to.deep.equal(['tenant.suspend', 'tenant.create']);
    const firstPage = await callJson(base, admin, 'GET', '/admin/v1/audit?tenant=bravo&limit=1');
    const second = await callJson(
      base,
      admin,
      'GET',
      `/admin/v1/audit?tenant=bravo&limit=1&cursor=${firstPage.body.next_cursor}`,
    );
    expect(second.body.data.map((row: AuditRow) => row.action)).to.deep.equal(['tenant.create']);
    expect(second.body.next_cursor).to.equal(null);
  });

  it('refuses bad cursors, tenants and limits, and non-admin tokens', async () => {
    for (const query of ['cursor=abc', 'cursor=czA', 'tenant=Bad_Id', 'limit=0', 'limit=501']) {
      const answer = await callJson(base, admin, 'GET', `/admin/v1/audit?${query}`);
      expect(answer.status, query).to.equal(400);
    }
    const tenantToken = await plane.mint({ tenantId: 'bravo' });
    expect((await callJson(base, tenantToken, 'GET', '/admin/v1/audit')).status).to.equal(403);
  });
});
