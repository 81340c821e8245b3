import http from 'node:http';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

interface Row {
  id: string;
  tenant_id: string;
  project_name: string;
  status: string;
}

describe('HTTP API', () => {
  let plane: TestPlane;
  let base: string;
  const tokens: Record<string, string> = {};
  const rowsOf: Record<string, Row[]> = {};

  async function call(
    tenant: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[tenant]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  before(async () => {
    plane = await createTestPlane({}, { TENANT_DOMAIN: 'example.test' });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    // alpha and bravo share the shard; corp has its own database.
    for (const [id, tier] of [
      ['alpha', 'starter'],
      ['bravo', 'pro'],
      ['corp', 'enterprise'],
    ] as const) {
      await plane.tp.tenants.create({ id, tier }, TEST_ACTOR);
    }
    base = await plane.listen();
    for (const tenant of ['alpha', 'bravo', 'corp', 'ghost']) {
      tokens[tenant] = await plane.mint({ tenantId: tenant });
    }
    tokens.admin = await plane.mint({ admin: true });
    for (const tenant of ['alpha', 'bravo', 'corp']) {
      rowsOf[tenant] = [];
      for (const project of ['web', 'api']) {
        const created = await call(tenant, 'POST', '/api/v1/deployments', {
          project_name: `${tenant}-${project}`,
          status: 'ready',
        });
        expect(created.status).to.equal(201);
        rowsOf[tenant]!.push(created.body);
      }
    }
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
    expect([tenantOnAdmin.status, tenantOnAdmin.body.error.code]).to.deep.equal([
      403,
      'admin_scope_required',
    ]);
  });

  it('validates input and answers with error codes', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/v1/deployments', { status: 'ready' }, 400, 'missing_field'],
      ['POST', '/api/v1/deployments', { project_name: 'x', status: 'Not A Status' }, 400, 'invalid_field'],
      [
        'POST',
        '/api/v1/deployments',
        { project_name: 'x', status: 'ready', url: 'javascript:alert(1)' },
        400,
        'invalid_field',
      ],
      [
        'POST',
        '/api/v1/deployments',
        { project_name: 'x', status: 'ready', tenant_id: 'bravo' },
        400,
        'unknown_field',
      ],
      ['POST', '/api/v1/deployments', '{not json', 400, 'invalid_json'],
      ['POST', '/api/v1/workflows', { name: 'w', status: 'on', config: [1] }, 400, 'invalid_field'],
      ['PATCH', `/api/v1/deployments/${rowsOf.alpha![0]!.id}`, {}, 400, 'empty_update'],
      ['GET', '/api/v1/deployments?limit=0', undefined, 400, 'invalid_limit'],
      ['GET', '/api/v1/deployments?limit=abc', undefined, 400, 'invalid_limit'],
      ['GET', '/api/v1/deployments?cursor=garbage', undefined, 400, 'invalid_cursor'],
      ['GET', "/api/v1/deployments?status=x'--", undefined, 400, 'invalid_filter'],
      ['GET', '/api/v1/deployments/not-a-uuid', undefined, 404, 'not_found'],
      ['GET', '/api/v1/nothing', undefined, 404, 'route_not_found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await call('alpha', method, path, body);
      expect([response.status, response.body?.error?.code], `${method} ${path}`).to.deep.equal([
        status,
        code,
      ]);
    }
  });

  it('refuses input PostgreSQL would reject with 400 and a code, before it reaches SQL', async () => {
    const row = rowsOf.alpha![0]!;
    // Sent as text: JSON.stringify itself runs out of stack on it.
    const nested = (depth: number) =>
      `{"name": "w", "status": "on", "config": {"deep": ${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const cursor = (createdAt: string, id = row.id) =>
      Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
    const application: Array<[string, string, unknown, string, string?]> = [
      // A NUL byte in any text field: PostgreSQL text cannot hold U+0000.
      [
        'POST',
        '/api/v1/deployments',
        { project_name: 'a\u0000b', status: 'ready' },
        'invalid_field',
        'project_name',
      ],
      [
        'POST',
        '/api/v1/deployments',
        { project_name: 'x', status: 'ready', url: 'https://x.example/\u0000' },
        'invalid_field',
        'url',
      ],
      ['PATCH', `/api/v1/deployments/${row.id}`, { project_name: '\u0000' }, 'invalid_field', 'project_name'],
      ['POST', '/api/v1/workflows', { name: 'nul\u0000', status: 'on' }, 'invalid_field', 'name'],
      // \u0000 anywhere in the JSON config, keys included: jsonb refuses it.
      [
        'POST',
        '/api/v1/workflows',
        { name: 'w', status: 'on', config: { 'k\u0000': 1 } },
        'invalid_field',
        'config',
      ],
      [
        'POST',
        '/api/v1/workflows',
        { name: 'w', status: 'on', config: { a: { b: [1, 'x\u0000'] } } },
        'invalid_field',
        'config',
      ],
      // An unpaired surrogate is not Unicode: jsonb refuses it, text would store U+FFFD instead.
      [
        'POST',
        '/api/v1/workflows',
        { name: 'w', status: 'on', config: { a: '\ud800' } },
        'invalid_field',
        'config',
      ],
      ['POST', '/api/v1/workflows', { name: 'half \udc00 pair', status: 'on' }, 'invalid_field', 'name'],
      // Nesting deeper than JSON.stringify's and PostgreSQL's stacks, well within the size limit.
      ['POST', '/api/v1/workflows', nested(20000), 'invalid_field', 'config'],
      // Cursors that decode to a date or time PostgreSQL cannot read.
      [
        'GET',
        `/api/v1/deployments?cursor=${cursor('2024-02-30 10:00:00.123456+00')}`,
        undefined,
        'invalid_cursor',
      ],
      ['GET', `/api/v1/deployments?cursor=${cursor('2023-02-29 10:00:00+00')}`, undefined, 'invalid_cursor'],
      ['GET', `/api/v1/deployments?cursor=${cursor('2024-13-01 10:00:00+00')}`, undefined, 'invalid_cursor'],
      ['GET', `/api/v1/deployments?cursor=${cursor('2024-01-01 25:00:00+00')}`, undefined, 'invalid_cursor'],
      ['GET', `/api/v1/deployments?cursor=${cursor('2024-01-01 10:61:00+00')}`, undefined, 'invalid_cursor'],
      ['GET', `/api/v1/deployments?cursor=${cursor('0000-01-01 10:00:00+00')}`, undefined, 'invalid_cursor'],
      ['GET', `/api/v1/deployments?cursor=${cursor('2024-01-01 10:00:00+16')}`, undefined, 'invalid_cursor'],
      [
        'GET',
        `/api/v1/deployments?cursor=${cursor('2024-01-01 10:00:00+05:60')}`,
        undefined,
        'invalid_cursor',
      ],
    ];
    // Every case is tried and the answers compared at once, so a failure lists all that are wrong.
    const wrong: string[] = [];
    for (const [method, path, body, code, field] of application) {
      const response = await call('alpha', method, path, body);
      const answer = [response.status, response.body?.error?.code, response.body?.error?.field];
      if (answer.join() !== [400, code, field].join()) {
        wrong.push(`${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}: ${answer.join(' ')}`);
      }
    }
    // A cursor this API made still works, leap day included.
    const leap = await call(
      'alpha',
      'GET',
      `/api/v1/deployments?cursor=${cursor('2024-02-29 23:59:59.999999+05:30')}`,
    );
    expect(leap.status).to.equal(200);

    const admin: Array<[string, string, unknown, string]> = [
      ['POST', '/admin/v1/tenants', { id: 'nul-co', name: 'Nul\u0000 Inc', tier: 'pro' }, 'invalid_field'],
      ['POST', '/admin/v1/tenants', { id: 'nul-co', tier: 'pro\u0000' }, 'invalid_field'],
      ['PATCH', '/admin/v1/tenants/alpha', { name: 'Alpha\u0000' }, 'invalid_field'],
      ['PATCH', '/admin/v1/tenants/alpha', { tier: '\u0000' }, 'invalid_field'],
      ['PATCH', '/admin/v1/tenants/alpha', { requests_per_minute: 2 ** 31 }, 'invalid_field'],
      ['POST', '/admin/v1/migrations/runs', { dry_run: true, target: 'shard-one\u0000' }, 'invalid_field'],
      // An audit cursor past the integers JavaScript holds exactly would page from the wrong place.
      [
        'GET',
        `/admin/v1/audit?cursor=${Buffer.from('s9007199254740993').toString('base64url')}`,
        undefined,
        'invalid_cursor',
      ],
    ];
    for (const [method, path, body, code] of admin) {
      const response = await call('admin', method, path, body);
      const answer = [response.status, response.body?.error?.code];
      if (answer.join() !== [400, code].join()) {
        wrong.push(`${method} ${path} ${JSON.stringify(body)}: ${answer.join(' ')}`);
      }
    }
    expect(wrong).to.deep.equal([]);
    // Nothing was created or changed by the refused requests.
    expect((await call('admin', 'GET', '/admin/v1/tenants/nul-co')).status).to.equal(404);
    const alpha = await call('admin', 'GET', '/admin/v1/tenants/alpha');
    expect(alpha.body).to.include({ name: 'alpha', tier: 'starter' });
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
