/**
 * bench:router's usage metering comparison (`--metering both`): the shard tenant's list against two
 * tenantplane services that differ only in USAGE_METERING, the one counting every request for its tenant
 * and flushing the counts to the catalog every USAGE_FLUSH_INTERVAL_MS, compared as paired-services.ts
 * says. Target: metering on at least 0.97 × off.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { profiling, type RouterRun } from './context.js';
import { listFrom, measurePaired } from './paired-services.js';
import { type Service, startService } from './services.js';

/** The two services of the metering comparison; `--metering both` runs it, `--only metering` selects it. */
export const METERING_CASE_NAMES = ['metering-off', 'metering-on'] as const;

async function startMeteringServices(run: RouterRun, round: number): Promise<Record<string, Service>> {
  const services: Record<string, Service> = {};
  const pair = [
    ['metering-off', 'off'],
    ['metering-on', 'on'],
  ] as const;
  // Which starts first alternates too, in case starting second made a difference.
  for (const [name, toggle] of round % 2 === 0 ? pair : [...pair].reverse()) {
    services[name] = await startService({
      name: `tenantplane-${name}-round${round + 1}`,
      script: 'src/cli/main.ts',
      args: ['serve'],
      env: { ...run.tenantplaneEnv, USAGE_METERING: toggle },
      logFile: `${run.filePrefix}-tenantplane-${name}.log`,
      ...profiling(run),
    });
  }
  return services;
}

/** The shard tenant's requests recorded in tenant_usage so far. */
async function recordedRequests(run: RouterRun): Promise<number> {
  const row = await run.plane.tp
    .knex('tenant_usage')
    .where({ tenant_id: run.plane.shard.id })
    .sum('requests as n')
    .first();
  return Number(row?.n ?? 0);
}

/** Checks that metering-on's counts reach the catalog (its first flush within USAGE_FLUSH_INTERVAL_MS). */
function verifyMetering(run: RouterRun) {
  return async (services: Record<string, Service>, token: string): Promise<string> => {
    const before = await recordedRequests(run);
    await (await listFrom(services['metering-on']!, token)).text();
    for (let waited = 0; (await recordedRequests(run)) === before; waited += 200) {
      if (waited > 15_000) throw new BenchFailure('metering-on flushed no usage to the catalog within 15 s');
      await sleep(200);
    }
    return 'metering-on counts requests and flushes them to tenant_usage; metering-off has USAGE_METERING=off';
  };
}

/** The metering comparison: `--rounds` fresh pairs, their summaries, the on/off target. */
export async function measureMetering(run: RouterRun): Promise<void> {
  log('metering: each round a fresh tenantplane counting usage per tenant and flushing it, and one without');
  const before = await recordedRequests(run);
  await measurePaired(run, {
    names: METERING_CASE_NAMES,
    what: 'usage metering',
    start: (round) => startMeteringServices(run, round),
    verify: verifyMetering(run),
    minimumRatio: 0.97,
  });
  const counted = (await recordedRequests(run)) - before;
  run.results.report.meteredRequests = counted;
  log(`metering: ${counted} requests of the shard tenant recorded in tenant_usage over the comparison`);
}
