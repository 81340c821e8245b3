import { expect } from 'chai';
import type { Knex } from 'knex';
import { connectControlDatabase } from '../src/catalog/control-database.js';
import { createLogger } from '../src/logging/logger.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { UsageMeter } from '../src/usage/usage-meter.js';
import { tenantUsagePeriods } from '../src/usage/usage-store.js';
import { rejection } from './support/async-helpers.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import { adminUrlFor, createTestPlane, type TestPlane } from './support/test-plane.js';

const TENANTS = 10_000;

/** Counts the statements a knex sends that write tenant_usage. */
function countUsageWrites(knex: Knex): { count: number } {
  const counter = { count: 0 };
  knex.on('query', (query: { sql: string }) => {
    if (/INSERT INTO tenant_usage/.test(query.sql)) counter.count += 1;
  });
  return counter;
}

describe('usage flush: one statement per interval at 10,000 tenants', function () {
  this.timeout(60000);
  let plane: TestPlane<Tenantplane>;
  let controlDatabase: string;
  const logger = createLogger('silent');

  before(async () => {
    plane = await createTestPlane({ serveTraffic: false });
    controlDatabase = `${plane.prefix}_control`;
    await plane.tp.knex.raw(
      `INSERT INTO tenants (id, name, tier, status)
       SELECT 'tenant-' || lpad(i::text, 5, '0'), 'Tenant ' || i, 'starter', 'active'
         FROM generate_series(1, ?) AS i`,
      [TENANTS],
    );
  });
  after(async () => plane?.close());

  it('writes every tenant’s counts in one statement, and adds the next interval’s to them', async () => {
    const knex = plane.tp.knex;
    const writes = countUsageWrites(knex);
    const meter = new UsageMeter({ knex, logger, flushIntervalMs: 3_600_000 });
    const ids = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i + 1).padStart(5, '0')}`);
    // Tenant i: i % 3 + 1 requests, the second a 404 and the third a 503; 2.5 ms of database time each.
    for (const [index, id] of ids.entries()) {
      for (let request = 0; request <= index % 3; request += 1) {
        meter.record(id, [200, 404, 503][request]!, 2.5, 10, 100);
      }
    }
    const first = await meter.flush();
    expect(writes.count).to.equal(1);
    for (const id of ids) meter.record(id, 200, 1, 0, 50);
    const second = await meter.flush();
    expect(writes.count).to.equal(2);
    expect(await meter.flush()).to.deep.equal({ rows: 0, requests: 0 });
    expect(writes.count, 'an empty interval writes nothing').to.equal(2);

    const expectedRequests = ids.reduce((sum, _id, index) => sum + (index % 3) + 1, 0);
    expect([first.rows, first.requests]).to.deep.equal([TENANTS, expectedRequests]);
    expect([second.rows, second.requests]).to.deep.equal([TENANTS, TENANTS]);
    const [totals] = (
      await knex.raw(
        `SELECT count(*)::int AS rows, sum(requests)::int AS requests, sum(errors_4xx)::int AS errors_4xx,
                sum(errors_5xx)::int AS errors_5xx, sum(db_time_ms)::float AS db_time_ms,
                sum(bytes_in)::int AS bytes_in, sum(bytes_out)::int AS bytes_out
           FROM tenant_usage`,
      )
    ).rows;
    const twoOrMore = ids.filter((_id, index) => index % 3 >= 1).length;
    const three = ids.filter((_id, index) => index % 3 === 2).length;
    expect(totals).to.deep.equal({
      // One row per tenant unless the hour turned between the two flushes.
      rows: totals.rows === TENANTS ? TENANTS : 2 * TENANTS,
      requests: expectedRequests + TENANTS,
      errors_4xx: twoOrMore,
      errors_5xx: three,
      db_time_ms: expectedRequests * 2.5 + TENANTS,
      bytes_in: expectedRequests * 10,
      bytes_out: expectedRequests * 100 + TENANTS * 50,
    });
    const [one] = (
      await knex.raw(
        "SELECT sum(requests)::int AS requests FROM tenant_usage WHERE tenant_id = 'tenant-00003'",
      )
    ).rows;
    expect(one.requests).to.equal(4);
    await meter.close();
  });

  it('keeps hours in UTC whatever the session time zone (one with a half-hour offset)', async () => {
    const url = new URL(adminUrlFor(controlDatabase));
    url.searchParams.set('options', '-c TimeZone=Asia/Kolkata');
    const knex = connectControlDatabase(url.toString());
    try {
      const meter = new UsageMeter({ knex, logger, flushIntervalMs: 3_600_000 });
      meter.record('tenant-09999', 200, 1, 0, 10);
      await meter.close();
      const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
      const range = { from: new Date(hour.getTime() - 3_600_000), to: new Date(hour.getTime() + 3_600_000) };
      for (const granularity of ['hour', 'day'] as const) {
        const periods = await tenantUsagePeriods(knex, 'tenant-09999', { ...range, granularity });
        const expected = granularity === 'hour' ? hour : new Date(hour.toISOString().slice(0, 10));
        expect(periods.map((period) => period.period_start)).to.include(expected.toISOString());
      }
    } finally {
      await knex.destroy();
    }
  });

  describe('while the control database is away', () => {
    let proxy: PgProxy;
    let knex: Knex;

    before(async () => {
      proxy = await startPgProxy();
      knex = connectControlDatabase(proxy.url(controlDatabase));
    });
    after(async () => {
      await knex?.destroy();
      await proxy?.close();
    });

    it('keeps the counts of a failed flush and writes them with the next one', async () => {
      const meter = new UsageMeter({ knex, logger, flushIntervalMs: 3_600_000 });
      const before = Number((await plane.tp.knex('tenant_usage').sum('requests as n').first())?.n ?? 0);
      meter.record('tenant-00001', 200, 1, 0, 10);
      meter.record('tenant-00002', 500, 1, 0, 10);
      proxy.cut(() => true);
      await rejection(meter.flush());
      expect(meter.pendingRequests).to.equal(2);
      meter.record('tenant-00001', 200, 1, 0, 10);
      proxy.release();
      expect(await meter.flush()).to.deep.include({ requests: 3 });
      expect(meter.pendingRequests).to.equal(0);
      const after = Number((await plane.tp.knex('tenant_usage').sum('requests as n').first())?.n ?? 0);
      expect(after - before).to.equal(3);
      await meter.close();
    });
  });
});
