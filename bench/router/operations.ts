/**
 * bench:router's operations cases: the shard tenant's list against two tenantplane services that differ
 * only in RATE_LIMITS and METRICS (both with REDIS_URL, so the limiter counts in Redis). Target: the on/off
 * throughput ratio at least 0.95.
 *
 * Two kinds of noise are larger here than the cost measured. Throughput drifts by ±20% over tens of
 * seconds, so the two services get the load in short slices that alternate (on, off, off, on, ...) and
 * neighbouring slices share the machine's state. And two processes of the very same build and settings
 * differ by up to ±5% for their whole life (memory layout, code generation), so every round starts a
 * fresh pair, and the figures are medians over several pairs.
 */

import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { median, pairedRatios, quantile } from '../lib/stats.js';
import { check } from '../lib/tables.js';
import { failOnErrors, profiling, type RouterRun } from './context.js';
import { withRedis } from './fixtures.js';
import { LIST_PATH, type LoadResult, runLoad, waitForQuiet } from './load.js';
import { type CaseSummary, summarize } from './report.js';
import { type Service, startService } from './services.js';

/** The two services of the operations comparison; `--only ops` selects both. */
export const OPS_CASE_NAMES = ['ops-off', 'ops-on'];

/** Starts ops-on and ops-off and checks that the one limits through Redis and measures, the other not. */
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
  const on = services['ops-on']!;
  const off = services['ops-off']!;
  const limited = await fetch(`${on.url}${LIST_PATH}`, {
    headers: { authorization: `Bearer ${run.plane.shard.token}` },
  });
  const unlimited = await fetch(`${off.url}${LIST_PATH}`, {
    headers: { authorization: `Bearer ${run.plane.shard.token}` },
  });
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
  return services;
}

/** One round: a fresh pair, warmed up, then its slices, on and off alternating; adds them to `runs`. */
async function runRound(
  run: RouterRun,
  env: Record<string, string>,
  round: number,
  runs: Map<string, LoadResult[]>,
): Promise<void> {
  const { options, plane } = run;
  const slicesPerRound = Math.max(1, Math.round(options.duration / options.opsSlice));
  const services = await startOpsServices(run, env, round);
  if (round === 0) log('checked: ops-on limits through Redis and serves /metrics; ops-off does neither');
  const sliceLoad = (name: string, seconds: number) => ({
    url: services[name]!.url,
    connections: options.connections,
    tokens: [plane.shard.token],
    seconds,
  });
  const waited = options.quietWait > 0 ? await waitForQuiet(0.25, options.quietWait) : 0;
  for (const name of OPS_CASE_NAMES) {
    if (options.warmup > 0) await runLoad(sliceLoad(name, options.warmup));
  }
  for (let slice = 0; slice < slicesPerRound; slice++) {
    const order = (round * slicesPerRound + slice) % 2 === 0 ? OPS_CASE_NAMES : [...OPS_CASE_NAMES].reverse();
    for (const name of order) {
      const load = { ...sliceLoad(name, options.opsSlice), servicePid: services[name]!.pid };
      runs.get(name)!.push(await runLoad({ ...load, databases: [plane.shard.databaseName] }));
    }
  }
  for (const service of Object.values(services)) await service.stop();
  const rps = (name: string) =>
    median(
      runs
        .get(name)!
        .slice(-slicesPerRound)
        .map((result) => result.rps),
    );
  log(
    `operations round ${round + 1}/${options.rounds}: ${slicesPerRound} slices of ${options.opsSlice} s each, ` +
      `median ops-on ${rps('ops-on').toFixed(0)} req/s, ops-off ${rps('ops-off').toFixed(0)} req/s` +
      (waited > 1.5 ? `  (waited ${waited.toFixed(0)} s for a quiet box)` : ''),
  );
}

/** The operations comparison: `--rounds` fresh pairs, their summaries, the on/off target. */
export async function measureOperations(run: RouterRun): Promise<void> {
  const env = withRedis(run.plane, run.tenantplaneEnv);
  log(
    `operations: each round a fresh tenantplane with rate limits (Redis at ${env.REDIS_URL}) and metrics on, ` +
      'and one with both off',
  );
  const runs = new Map<string, LoadResult[]>(OPS_CASE_NAMES.map((name) => [name, []]));
  for (let round = 0; round < run.options.rounds; round++) await runRound(run, env, round, runs);
  const [offSummary, onSummary] = OPS_CASE_NAMES.map((name) => summarize(name, runs.get(name)!)) as [
    CaseSummary,
    CaseSummary,
  ];
  const { results } = run;
  results.cases.push(offSummary, onSummary);
  failOnErrors(run, [offSummary, onSummary]);
  // Slice i of one service ran right next to slice i of the other.
  const paired = pairedRatios(
    onSummary.runs.map((result) => result.rps),
    offSummary.runs.map((result) => result.rps),
  );
  results.report.pairedRatios = {
    ...((results.report.pairedRatios as object | undefined) ?? {}),
    'ops-on / ops-off': paired,
  };
  results.targets.push(
    check(
      'req/s ops-on / ops-off (rate limits + metrics)',
      onSummary.median.rps / offSummary.median.rps,
      '>=',
      0.95,
      `median of ${paired.length} neighbouring slice pairs ${median(paired).toFixed(3)}, ` +
        `quartiles ${quantile(paired, 0.25).toFixed(3)}-${quantile(paired, 0.75).toFixed(3)}`,
    ),
  );
}
