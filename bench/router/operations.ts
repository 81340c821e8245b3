/**
 * bench:router's operations cases: the shard tenant's list against two tenantplane services that differ
 * only in RATE_LIMITS and METRICS (both with REDIS_URL, so the limiter counts in Redis), compared as
 * paired-services.ts says. Target: the on/off throughput ratio at least 0.95.
 */

import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { profiling, type RouterRun } from './context.js';
import { withRedis } from './fixtures.js';
import { listFrom, measurePaired } from './paired-services.js';
import { type Service, startService } from './services.js';

/** The two services of the operations comparison; `--only ops` selects both. */
export const OPS_CASE_NAMES = ['ops-off', 'ops-on'] as const;

/** Starts ops-on and ops-off. */
async function startOpsServices(
  run: RouterRun,
  env: Record<string, string>,
  round: number,
): Promise<Record<string, Service>> {
  const services: Record<string, Service> = {};
  const pair = [
    ['ops-off', 'off'],
    ['ops-on', 'on'],
  ] as const;
  // Which starts first alternates too, in case starting second made a difference.
  for (const [name, toggle] of round % 2 === 0 ? pair : [...pair].reverse()) {
    services[name] = await startService({
      name: `tenantplane-${name}-round${round + 1}`,
      script: 'src/cli/main.ts',
      args: ['serve'],
      env: { ...env, RATE_LIMITS: toggle, METRICS: toggle },
      logFile: `${run.filePrefix}-tenantplane-${name}.log`,
      ...profiling(run),
    });
  }
  return services;
}

/** Checks that ops-on limits through Redis and measures, and ops-off does neither. */
async function verifyOpsServices(services: Record<string, Service>, token: string): Promise<string> {
  const on = services['ops-on']!;
  const off = services['ops-off']!;
  const limited = await listFrom(on, token);
  const unlimited = await listFrom(off, token);
  const ready = (await (await fetch(`${on.url}/ready`)).json()) as { checks: Record<string, string> };
  if (
    limited.headers.get('x-ratelimit-limit') === null ||
    unlimited.headers.get('x-ratelimit-limit') !== null ||
    ready.checks.rate_limit !== 'redis' ||
    (await fetch(`${on.url}/metrics`)).status !== 200 ||
    (await fetch(`${off.url}/metrics`)).status !== 404
  ) {
    throw new BenchFailure(
      `the operations services are not what they claim (rate_limit ${ready.checks.rate_limit}, headers ` +
        `${limited.headers.get('x-ratelimit-limit')} / ${unlimited.headers.get('x-ratelimit-limit')})`,
    );
  }
  await Promise.all([limited.text(), unlimited.text()]);
  return 'ops-on limits through Redis and serves /metrics; ops-off does neither';
}

/** The operations comparison: `--rounds` fresh pairs, their summaries, the on/off target. */
export async function measureOperations(run: RouterRun): Promise<void> {
  const env = withRedis(run.plane, run.tenantplaneEnv);
  log(
    `operations: each round a fresh tenantplane with rate limits (Redis at ${env.REDIS_URL}) and metrics on, ` +
      'and one with both off',
  );
  await measurePaired(run, {
    names: OPS_CASE_NAMES,
    what: 'rate limits + metrics',
    start: (round) => startOpsServices(run, env, round),
    verify: verifyOpsServices,
    minimumRatio: 0.95,
  });
}
