/**
 * `npx tsx bench/usage/run.ts [--tenants N] [--rounds N]`: what usage metering costs where it runs.
 *
 * 1. The flush at N tenants (default 10,000), every tenant with requests in the interval: the meter's one
 *    INSERT ... SELECT FROM unnest ... ON CONFLICT statement, against the baseline of one upsert statement
 *    per tenant in one transaction (what a flush without batching would send). Median and max ms of each
 *    over the rounds, and their ratio.
 * 2. The request path's share: `UsageMeter.record` per call against the baseline of one Map counter
 *    increment per call, over the same tenant ids, in ns per call.
 *
 * On a fresh control database of its own (test PostgreSQL, `TEST_POSTGRES_URL`), dropped at the end.
 */

import { parseArgs } from 'node:util';
import { createLogger } from '../../src/logging/logger.js';
import type { Tenantplane } from '../../src/tenantplane.js';
import { UsageMeter } from '../../src/usage/usage-meter.js';
import { createTestPlane, type TestPlane } from '../../test/support/test-plane.js';
import { log } from '../lib/log.js';
import { median } from '../lib/stats.js';

const { values } = parseArgs({
  options: { tenants: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '7' } },
});
const TENANTS = Number(values.tenants);
const ROUNDS = Number(values.rounds);
if (!(Number.isInteger(TENANTS) && TENANTS > 0 && Number.isInteger(ROUNDS) && ROUNDS > 0)) {
  throw new Error('--tenants and --rounds must be positive integers');
}

const ids = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i + 1).padStart(6, '0')}`);

/** One interval's worth of requests: three per tenant. */
function fill(meter: UsageMeter): void {
  for (const id of ids) for (const status of [200, 404, 200]) meter.record(id, status, 1.5, 120, 2048);
}

/** Milliseconds `work` takes. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** The baseline flush: the same counts, one upsert per tenant, in one transaction. */
async function flushOneByOne(plane: TestPlane<Tenantplane>): Promise<void> {
  const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  await plane.tp.knex.transaction(async (trx) => {
    for (const id of ids) {
      await trx.raw(
        `INSERT INTO tenant_usage AS u
           (tenant_id, period_start, requests, errors_4xx, errors_5xx, db_time_ms, bytes_in, bytes_out)
         VALUES (?, ?, 3, 1, 0, 4.5, 360, 6144)
         ON CONFLICT (tenant_id, period_start) DO UPDATE SET
           requests = u.requests + excluded.requests, errors_4xx = u.errors_4xx + excluded.errors_4xx,
           errors_5xx = u.errors_5xx + excluded.errors_5xx, db_time_ms = u.db_time_ms + excluded.db_time_ms,
           bytes_in = u.bytes_in + excluded.bytes_in, bytes_out = u.bytes_out + excluded.bytes_out`,
        [id, hour],
      );
    }
  });
}

/** ns per call of `step` over `calls` calls, the best of three passes (the least disturbed). */
function nsPerCall(calls: number, step: (index: number) => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 3; pass += 1) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < calls; index += 1) step(index);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / calls);
  }
  return best;
}

const plane = await createTestPlane({ serveTraffic: false });
try {
  await plane.tp.knex.raw(
    `INSERT INTO tenants (id, name, tier, status)
     SELECT 'tenant-' || lpad(i::text, 6, '0'), 'Tenant ' || i, 'starter', 'active' FROM generate_series(1, ?) i`,
    [TENANTS],
  );
  const meter = new UsageMeter({
    knex: plane.tp.knex,
    logger: createLogger('silent'),
    flushIntervalMs: 3_600_000,
  });
  const batched: number[] = [];
  const oneByOne: number[] = [];
  // Alternating, so that both see the same drift of a busy machine; the first round of each warms up.
  for (let round = 0; round <= ROUNDS; round += 1) {
    fill(meter);
    const batchedMs = await timed(() => meter.flush());
    const oneByOneMs = await timed(() => flushOneByOne(plane));
    if (round === 0) continue;
    batched.push(batchedMs);
    oneByOne.push(oneByOneMs);
  }
  log(`flush of ${TENANTS} tenants, ${ROUNDS} rounds:`);
  log(
    `  one statement (the meter):  median ${median(batched).toFixed(1)} ms, max ${Math.max(...batched).toFixed(1)} ms`,
  );
  log(
    `  one upsert per tenant:      median ${median(oneByOne).toFixed(1)} ms, max ${Math.max(...oneByOne).toFixed(1)} ms`,
  );
  log(`  ratio one-by-one / batched: ${(median(oneByOne) / median(batched)).toFixed(1)}×`);

  const counters = new Map<string, number>();
  const calls = 2_000_000;
  const baseline = nsPerCall(calls, (index) => {
    const id = ids[index % TENANTS]!;
    counters.set(id, (counters.get(id) ?? 0) + 1);
  });
  const recorded = nsPerCall(calls, (index) => meter.record(ids[index % TENANTS]!, 200, 1.5, 120, 2048));
  log(`request path, ${calls} calls over ${TENANTS} tenants (best of 3):`);
  log(`  Map counter increment (baseline): ${baseline.toFixed(0)} ns per call`);
  log(
    `  UsageMeter.record:                ${recorded.toFixed(0)} ns per call (${(recorded / baseline).toFixed(2)}× the baseline)`,
  );
  await meter.close();
} finally {
  await plane.close();
}
