import http from 'node:http';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { type ApiTenants, openApiTenants, type Row } from './support/api-tenants.js';
import type { TestPlane } from './support/test-plane.js';

describe('HTTP API: each tenant its own rows', () => {
  let plane: TestPlane;
  let base: string;
  let tokens: ApiTenants['tokens'];
  let rowsOf: ApiTenants['rowsOf'];
  let call: ApiTenants['call'];

  before(async () => {
    ({ plane, base, tokens, rowsOf, call } = await openApiTenants());
  });
  after(async () => plane.close());

  it('creates rows for the token’s tenant and lists only them', async () => {
    expect(rowsOf.alpha![0]).to.include({
      tenant_id: 'alpha',
      project_name: 'alpha-web',
      status: 'ready',
      url: null,
    });
    const list = await call('alpha', 'GET', '/api/v1/deployments');
    expect(list.status).to.equal(200);
    expect(list.body.tenant_id).to.equal('alpha');
    expect(list.body.data.map((row: Row) => row.project_name)).to.deep.equal(['alpha-api', 'alpha-web']);
  });

  it('never lets one tenant read, change or delete another’s rows, on the same shard or across databases', async () => {
    for (const [attacker, victim] of [
      ['alpha', 'bravo'],
      ['bravo', 'alpha'],
      ['alpha', 'corp'],
      ['corp', 'alpha'],
    ] as const) {
      for (const row of rowsOf[victim]!) {
        const read = await call(attacker, 'GET', `/api/v1/deployments/${row.id}`);
        const change = await call(attacker, 'PATCH', `/api/v1/deployments/${row.id}`, { status: 'hacked' });
        const remove = await call(attacker, 'DELETE', `/api/v1/deployments/${row.id}`);
        expect([read.status, change.status, remove.status], `${attacker} on ${victim}`).to.deep.equal([
          404, 404, 404,
        ]);
        expect(read.body.error.code).to.equal('not_found');
      }
    }
    for (const victim of ['alpha', 'bravo', 'corp']) {
      const list = await call(victim, 'GET', '/api/v1/deployments');
      expect(list.body.data.map((row: Row) => row.status)).to.deep.equal(['ready', 'ready']);
    }
  });

  it('updates and deletes the tenant’s own rows', async () => {
    const [row] = rowsOf.bravo!;
    const patched = await call('bravo', 'PATCH', `/api/v1/deployments/${row!.id}`, {
      status: 'building',
      url: 'https://b.example',
    });
    expect(patched.status).to.equal(200);
    expect(patched.body).to.include({
      status: 'building',
      url: 'https://b.example',
      project_name: 'bravo-web',
    });
    expect(new Date(patched.body.updated_at) >= new Date(patched.body.created_at)).to.equal(true);
    const workflow = await call('bravo', 'POST', '/api/v1/workflows', {
      name: 'deploy',
      status: 'active',
      config: { steps: 2 },
    });
    expect(workflow.status).to.equal(201);
    expect(workflow.body.config).to.deep.equal({ steps: 2 });
    const removed = await call('bravo', 'DELETE', `/api/v1/workflows/${workflow.body.id}`);
    expect(removed.status).to.equal(204);
    expect((await call('bravo', 'GET', `/api/v1/workflows/${workflow.body.id}`)).status).to.equal(404);
  });

  it('refuses an X-Tenant-ID header or subdomain that disagrees with the token', async () => {
    const header = await call('alpha', 'GET', '/api/v1/deployments', undefined, { 'x-tenant-id': 'bravo' });
    expect([header.status, header.body.error.code]).to.deep.equal([403, 'tenant_mismatch']);
    const agreeing = await call('alpha', 'GET', '/api/v1/deployments', undefined, { 'x-tenant-id': 'alpha' });
    expect(agreeing.status).to.equal(200);
    // fetch cannot set Host, node:http can.
    const viaHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const request = http.get(
          `${base}/api/v1/deployments`,
          { headers: { host, authorization: `Bearer ${tokens.alpha}` } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', reject);
      });
    expect(await viaHost('bravo.example.test')).to.equal(403);
    expect(await viaHost('alpha.example.test')).to.equal(200);
  });

  it('answers 401 without a valid token and 403 for a token of an unknown tenant', async () => {
    const none = await fetch(`${base}/api/v1/deployments`);
    expect(none.status).to.equal(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).to.equal('missing_token');
    const expired = await new SignJWT({ tenant_id: 'alpha' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tenantplane-dev')
      .setAudience('tenantplane')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('not-the-key-but-long-enough-0123456789'));
    const forged = await fetch(`${base}/api/v1/deployments`, {
      headers: { authorization: `Bearer ${expired}` },
    });
    expect(forged.status).to.equal(401);
    const ghost = await call('ghost', 'GET', '/api/v1/deployments');
    expect([ghost.status, ghost.body.error.code]).to.deep.equal([403, 'tenant_unavailable']);
    expect(plane.tp.router.pools.stats().some((pool) => pool.databaseId.includes('ghost'))).to.equal(false);
  });

  it('keeps the admin API and the application API apart', async () => {
    const adminOnApp = await call('admin', 'GET', '/api/v1/deployments');
    expect([adminOnApp.status, adminOnApp.body.error.code]).to.deep.equal([403, 'tenant_required']);
    const tenantOnAdmin = await call('alpha', 'GET', '/admin/v1/tenants');
    expect([tenantOnAdmin.status, tenantOnAdmin.body.error.code]).to.deep.equal([403, 'insufficient_scope']);
  });

  it('pages newest first with a cursor that stays stable while rows are inserted', async () => {
    const originals: string[] = [];
    for (let i = 0; i < 23; i++) {
      const created = await call('corp', 'POST', '/api/v1/workflows', {
        name: `wf-${i}`,
        status: i % 2 ? 'active' : 'paused',
      });
      originals.unshift(created.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/api/v1/workflows?limit=5${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call('corp', 'GET', query);
      expect(page.status).to.equal(200);
      seen.push(...page.body.data.map((row: { id: string }) => row.id));
      cursor = page.body.next_cursor;
      pages += 1;
      // Newer rows land before the cursor and must not disturb the pages still to come.
      await call('corp', 'POST', '/api/v1/workflows', { name: `late-${pages}`, status: 'active' });
    } while (cursor);
    expect(seen).to.deep.equal(originals);
    expect(pages).to.equal(5);
    const filtered = await call('corp', 'GET', '/api/v1/workflows?status=paused&limit=100');
    expect(filtered.body.data).to.have.length(12);
  });
});
