import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { expect } from 'chai';
import type { ServingTenantplane } from '../src/tenantplane.js';
import type { UsagePeriod } from '../src/usage/usage-store.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** What the clients saw of one tenant's requests: the meter must have counted exactly this. */
interface Seen {
  requests: number;
  errors_4xx: number;
  errors_5xx: number;
  bytes_in: number;
  bytes_out: number;
}

const TENANTS = ['alpha', 'bravo', 'corp'] as const;

describe('usage metering: two instances, three tenants', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let second: ServingTenantplane;
  let secondServer: Server;
  const bases: string[] = [];
  const tokens: Record<string, string> = {};
  const seen = new Map<string, Seen>();
  let admin: string;

  /** One request as `tenant` on instance `instance`, tallied as the client saw it. */
  async function send(instance: number, tenant: string, method: string, path: string, body?: unknown) {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const response = await fetch(`${bases[instance]}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[tenant]}`,
        ...(text === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(text === undefined ? {} : { body: text }),
    });
    const answer = Buffer.from(await response.arrayBuffer());
    const tally = seen.get(tenant) ?? {
      requests: 0,
      errors_4xx: 0,
      errors_5xx: 0,
      bytes_in: 0,
      bytes_out: 0,
    };
    tally.requests += 1;
    if (response.status >= 500) tally.errors_5xx += 1;
    else if (response.status >= 400) tally.errors_4xx += 1;
    tally.bytes_in += text === undefined ? 0 : Buffer.byteLength(text);
    tally.bytes_out += answer.length;
    seen.set(tenant, tally);
    return response.status;
  }

  async function adminGet(path: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`${bases[0]}${path}`, { headers: { authorization: `Bearer ${admin}` } });
    return { status: response.status, text: await response.text() };
  }

  before(async () => {
    // Flushed only when the test says so: what each flush writes is then known.
    plane = await createTestPlane({}, { USAGE_FLUSH_INTERVAL_MS: '3600000' });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'alpha', name: 'Alpha', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'bravo', name: 'Bravo', tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'corp', name: 'Corp', tier: 'enterprise' }, TEST_ACTOR);
    bases.push(await plane.listen());
    second = await plane.openAnother({ serveTraffic: true });
    secondServer = await second.listen(0, '127.0.0.1');
    bases.push(`http://127.0.0.1:${(secondServer.address() as { port: number }).port}`);
    for (const tenant of [...TENANTS, 'ghost']) tokens[tenant] = await plane.mint({ tenantId: tenant });
    admin = await plane.mint({ admin: true });
  });

  after(async () => {
    secondServer?.closeAllConnections();
    await new Promise((resolve) => secondServer?.close(resolve));
    await plane?.close();
  });

  it('counts requests, 4xx and 5xx apart, database time and bytes exactly, across both instances', async () => {
    const missing = `/api/v1/deployments/${randomUUID()}`;
    for (let index = 0; index < 3; index += 1) {
      expect(
        await send(0, 'alpha', 'POST', '/api/v1/deployments', { project_name: `p${index}`, status: 'ready' }),
      ).to.equal(201);
    }
    expect(await send(1, 'alpha', 'GET', '/api/v1/deployments')).to.equal(200);
    expect(await send(0, 'alpha', 'GET', missing)).to.equal(404);
    expect(await send(1, 'alpha', 'POST', '/api/v1/deployments', { project_name: 5 })).to.equal(400);
    for (let index = 0; index < 4; index += 1) {
      expect(await send(index % 2, 'bravo', 'GET', '/api/v1/deployments?limit=5')).to.equal(200);
    }
    expect(
      await send(1, 'corp', 'POST', '/api/v1/workflows', { name: 'w', status: 'active', config: {} }),
    ).to.equal(201);
    expect(await send(0, 'corp', 'GET', '/api/v1/workflows')).to.equal(200);
    expect(await send(1, 'corp', 'GET', missing)).to.equal(404);
    // A tenant in the middle of a move is refused with 503 on both instances: server errors of its own.
    await plane.tp.catalog.updateTenant('bravo', { status: 'moving' });
    for (const instance of [0, 1]) {
      while ((await send(instance, 'bravo', 'GET', '/api/v1/deployments')) !== 503) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await plane.tp.catalog.updateTenant('bravo', { status: 'active' });
    // A token for a tenant the catalog does not have: refused, and billed to nobody.
    expect(await send(0, 'ghost', 'GET', '/api/v1/deployments')).to.equal(403);

    const flushed = await Promise.all(
      [plane.tp, second].map((tp) => (tp as ServingTenantplane).usage!.flush()),
    );
    const sent = [...seen.values()].reduce((sum, tally) => sum + tally.requests, 0);
    expect(flushed[0]!.requests + flushed[1]!.requests).to.equal(sent);

    for (const tenant of TENANTS) {
      const answer = await adminGet(`/admin/v1/tenants/${tenant}/usage?granularity=day`);
      expect(answer.status).to.equal(200);
      const periods = JSON.parse(answer.text).data as UsagePeriod[];
      // One day, unless the test ran across midnight (UTC): the sums are what must match.
      const total = (field: keyof Seen | 'errors' | 'db_time_ms') =>
        periods.reduce((sum, period) => sum + (period[field] as number), 0);
      const expected = seen.get(tenant)!;
      expect(
        Object.fromEntries(Object.keys(expected).map((field) => [field, total(field as keyof Seen)])),
        tenant,
      ).to.deep.equal(expected);
      expect(total('errors')).to.equal(expected.errors_4xx + expected.errors_5xx);
      expect(periods.every((period) => period.storage_bytes === null && period.rows === null)).to.equal(true);
      expect(total('db_time_ms'), `${tenant} database time`).to.be.greaterThan(0);
    }
    expect(seen.get('bravo')!.errors_5xx).to.be.at.least(2);
    expect((await adminGet('/admin/v1/tenants/ghost/usage')).status).to.equal(404);
  });

  it('exports the same figures as CSV, one row per tenant and period', async () => {
    const from = new Date(Date.now() - 2 * 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const csv = await adminGet(`/admin/v1/usage.csv?from=${from}&to=${to}`);
    expect(csv.status).to.equal(200);
    const [header, ...lines] = csv.text.trimEnd().split('\r\n');
    const columns = header!.split(',');
    expect(columns).to.deep.equal([
      'tenant_id',
      'period_start',
      'requests',
      'errors',
      'errors_4xx',
      'errors_5xx',
      'db_time_ms',
      'bytes_in',
      'bytes_out',
      'storage_bytes',
      'rows',
    ]);
    const rows = lines.map((line) =>
      Object.fromEntries(line.split(',').map((cell, i) => [columns[i], cell])),
    );
    expect([...new Set(rows.map((row) => row.tenant_id))]).to.deep.equal([...TENANTS]);
    for (const tenant of TENANTS) {
      const api = await adminGet(`/admin/v1/tenants/${tenant}/usage?from=${from}&to=${to}`);
      const periods = JSON.parse(api.text).data as UsagePeriod[];
      const exported = rows
        .filter((row) => row.tenant_id === tenant)
        .map(({ tenant_id: _tenant, ...row }) =>
          Object.fromEntries(
            Object.entries(row).map(([key, value]) => [
              key,
              key === 'period_start' ? value : value === '' ? null : Number(value),
            ]),
          ),
        );
      expect(exported, tenant).to.deep.equal(periods);
    }
  });

  it('refuses a bad range with 400 invalid_query', async () => {
    for (const query of [
      'granularity=week',
      'from=2026-02-30',
      'from=2026-12-02&to=2026-12-01',
      'from=2020-01-01&to=2026-01-01',
    ]) {
      const answer = await adminGet(`/admin/v1/tenants/alpha/usage?${query}`);
      expect([answer.status, JSON.parse(answer.text).error.code], query).to.deep.equal([
        400,
        'invalid_query',
      ]);
    }
    const csv = await adminGet('/admin/v1/usage.csv?to=yesterday');
    expect([csv.status, JSON.parse(csv.text).error.code]).to.deep.equal([400, 'invalid_query']);
  });
});
