import { expect } from 'chai';
import { type ApiTenants, openApiTenants } from './support/api-tenants.js';
import type { TestPlane } from './support/test-plane.js';

describe('HTTP API: input checks', () => {
  let plane: TestPlane;
  let rowsOf: ApiTenants['rowsOf'];
  let call: ApiTenants['call'];

  before(async () => {
    ({ plane, rowsOf, call } = await openApiTenants());
  });
  after(async () => plane.close());

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
});
