/**
 * bench:router's on/off comparisons (rate limits and metrics, tracing): the shard tenant's list against two
 * tenantplane services that differ in one setting. Target: the on/off throughput ratio.
 *
 * Two kinds of noise are larger here than the cost measured. Throughput drifts by ±20% over tens of
 * seconds, so the two services get the load in short slices that alternate (on, off, off, on, ...) and
 * neighbouring slices share the machine's state. And two processes of the very same build and settings
 * differ by up to ±5% for their whole life (memory layout, code generation), so every round starts a
 * fresh pair, and the figures are medians over several pairs.
 */

import { log } from '../lib/log.js';
import { median, pairedRatios, quantile } from '../lib/stats.js';
import { check } from '../lib/tables.js';
import { failOnErrors, type RouterRun } from './context.js';
import { LIST_PATH, type LoadResult, runLoad, waitForQuiet } from './load.js';
import { type CaseSummary, summarize } from './report.js';
import type { Service } from './services.js';

export interface PairedComparison {
  /** The two cases, `off` first: `['ops-off', 'ops-on']`. */
  names: readonly [off: string, on: string];
  /** What is switched, for the log and the target's name ("rate limits + metrics"). */
  what: string;
  /** Starts a fresh pair for a round (the order alternating by round), keyed by case name. */
  start(round: number): Promise<Record<string, Service>>;
  /** Checks that the pair is what it claims; throws BenchFailure otherwise. Said in the log once. */
  verify(services: Record<string, Service>, token: string): Promise<string>;
  /** The on/off req/s ratio the target asks at least. */
  minimumRatio: number;
}

/** One round: a fresh pair, checked, warmed up, then its slices, on and off alternating; adds them to `runs`. */
async function runRound(
  run: RouterRun,
  comparison: PairedComparison,
  round: number,
  runs: Map<string, LoadResult[]>,
): Promise<void> {
  const { options, plane } = run;
  const names = comparison.names;
  const slicesPerRound = Math.max(1, Math.round(options.duration / options.opsSlice));
  const services = await comparison.start(round);
  const checked = await comparison.verify(services, plane.shard.token);
  if (round === 0) log(`checked: ${checked}`);
  const sliceLoad = (name: string, seconds: number) => ({
    url: services[name]!.url,
    connections: options.connections,
    tokens: [plane.shard.token],
    seconds,
  });
  const waited = options.quietWait > 0 ? await waitForQuiet(0.25, options.quietWait) : 0;
  for (const name of names) {
    if (options.warmup > 0) await runLoad(sliceLoad(name, options.warmup));
  }
  for (let slice = 0; slice < slicesPerRound; slice++) {
    const order = (round * slicesPerRound + slice) % 2 === 0 ? names : [...names].reverse();
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
    `${comparison.what} round ${round + 1}/${options.rounds}: ${slicesPerRound} slices of ${options.opsSlice} s ` +
      `each, median ${names[1]} ${rps(names[1]).toFixed(0)} req/s, ${names[0]} ${rps(names[0]).toFixed(0)} req/s` +
      (waited > 1.5 ? `  (waited ${waited.toFixed(0)} s for a quiet box)` : ''),
  );
}

/** The comparison: `--rounds` fresh pairs, their summaries, the on/off target with the paired ratios. */
export async function measurePaired(run: RouterRun, comparison: PairedComparison): Promise<void> {
  const [offName, onName] = comparison.names;
  const runs = new Map<string, LoadResult[]>(comparison.names.map((name) => [name, []]));
  for (let round = 0; round < run.options.rounds; round++) await runRound(run, comparison, round, runs);
  const offSummary: CaseSummary = summarize(offName, runs.get(offName)!);
  const onSummary: CaseSummary = summarize(onName, runs.get(onName)!);
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
    [`${onName} / ${offName}`]: paired,
  };
  results.targets.push(
    check(
      `req/s ${onName} / ${offName} (${comparison.what})`,
      onSummary.median.rps / offSummary.median.rps,
      '>=',
      comparison.minimumRatio,
      `median of ${paired.length} neighbouring slice pairs ${median(paired).toFixed(3)}, ` +
        `quartiles ${quantile(paired, 0.25).toFixed(3)}-${quantile(paired, 0.75).toFixed(3)}`,
    ),
  );
}

/** The list with the shard tenant's token: its response, for a pair's `verify`. */
export function listFrom(service: Service, token: string): Promise<Response> {
  return fetch(`${service.url}${LIST_PATH}`, { headers: { authorization: `Bearer ${token}` } });
}
