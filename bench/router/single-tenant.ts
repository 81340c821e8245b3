/**
 * bench:router's single-tenant cases: the same list, for a dedicated and a shard tenant, from tenantplane
 * and from the hand-written baseline, in rounds; tenantplane's throughput held against the baseline's.
 */

import { adminUrlFor } from '../../test/support/test-plane.js';
import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { wanted } from '../lib/options.js';
import { median, pairedRatios } from '../lib/stats.js';
import { check, ratiosText } from '../lib/tables.js';
import { failOnErrors, profiling, type RouterRun } from './context.js';
import type { LoadResult } from './load.js';
import { type CaseSpec, measure } from './measure.js';
import { checkList } from './pages.js';
import { type CaseSummary, summarize } from './report.js';
import { type Service, startService } from './services.js';

const SINGLE_NAMES = ['baseline-dedicated', 'tenantplane-dedicated', 'baseline-shard', 'tenantplane-shard'];
/** Every other round: who goes first in each pair alternates. */
const SINGLE_NAMES_SWAPPED = [
  'tenantplane-dedicated',
  'baseline-dedicated',
  'tenantplane-shard',
  'baseline-shard',
];
/** Each tenantplane case against its baseline case, and the least throughput ratio wanted. */
const PAIRS: Array<[string, string, number]> = [
  ['tenantplane-dedicated', 'baseline-dedicated', 0.9],
  ['tenantplane-shard', 'baseline-shard', 0.85],
];

/** The single-tenant cases `--only` leaves. */
export function singleTenantCases(run: RouterRun): string[] {
  return SINGLE_NAMES.filter((name) => wanted(run.options.only, name));
}

/** tenantplane (tenantctl serve) and the baseline, each answering the same first page for both tenants. */
async function startPair(run: RouterRun): Promise<{ tenantplane: Service; baseline: Service }> {
  const { plane, filePrefix } = run;
  const { dedicated, shard } = plane;
  log('starting services: tenantplane (tenantctl serve) and the baseline');
  const tenantplane = await startService({
    name: 'tenantplane',
    script: 'src/cli/main.ts',
    args: ['serve'],
    env: run.tenantplaneEnv,
    logFile: `${filePrefix}-tenantplane.log`,
    ...profiling(run),
  });
  const baseline = await startService({
    name: 'baseline',
    script: 'bench/router/baseline-server.ts',
    env: {
      BASELINE_JWKS: JSON.stringify(plane.jwks),
      BASELINE_ISSUER: plane.issuer,
      BASELINE_AUDIENCE: plane.audience,
      BASELINE_TENANTS: JSON.stringify({
        [dedicated.id]: { url: adminUrlFor(dedicated.databaseName), poolSize: dedicated.poolSize },
        [shard.id]: { url: adminUrlFor(shard.databaseName), poolSize: shard.poolSize },
      }),
    },
    logFile: `${filePrefix}-baseline.log`,
    ...profiling(run),
  });

  // Both answer the same page, byte for byte, before anything is timed.
  for (const tenant of [dedicated, shard]) {
    const ours = await checkList(tenantplane, tenant, 20);
    const theirs = await checkList(baseline, tenant, 20);
    if (ours !== theirs) {
      throw new BenchFailure(`tenantplane and the baseline answer differently for ${tenant.id}`);
    }
  }
  log('checked: both services return the same first page for both tenants');
  return { tenantplane, baseline };
}

/** The `--rounds` rounds of the cases, each a run per case; the runs by case. */
async function runRounds(
  run: RouterRun,
  cases: string[],
  services: { tenantplane: Service; baseline: Service },
): Promise<Map<string, LoadResult[]>> {
  const { options, plane } = run;
  const spec = (name: string): CaseSpec => {
    const tenant = name.endsWith('dedicated') ? plane.dedicated : plane.shard;
    return {
      name,
      service: name.startsWith('baseline') ? services.baseline : services.tenantplane,
      tokens: [tenant.token],
      seconds: options.duration,
      databases: [tenant.databaseName],
    };
  };
  const runs = new Map<string, LoadResult[]>(cases.map((name) => [name, []]));
  for (let round = 0; round < options.rounds; round++) {
    // Alternate who goes first in each pair, so neither side always runs on a warmer (or hotter) box.
    const order = round % 2 === 0 ? SINGLE_NAMES : SINGLE_NAMES_SWAPPED;
    log(`round ${round + 1}/${options.rounds}`);
    for (const name of order.filter((n) => runs.has(n))) {
      runs.get(name)!.push(await measure(spec(name), options));
    }
  }
  return runs;
}

/** tenantplane's throughput over the baseline's, per pair that ran; each round's ratio in the note. */
function pairTargets(run: RouterRun, cases: CaseSummary[]): void {
  const byName = new Map(cases.map((summary) => [summary.name, summary]));
  const pairedRatiosReport: Record<string, number[]> = {};
  for (const [ours, theirs, target] of PAIRS) {
    const mine = byName.get(ours);
    const other = byName.get(theirs);
    if (!mine || !other) continue;
    // Each round runs the pair back to back, so the per-round ratio shares the box's state of the moment.
    const perRound = pairedRatios(
      mine.runs.map((result) => result.rps),
      other.runs.map((result) => result.rps),
    );
    pairedRatiosReport[`${ours} / ${theirs}`] = perRound;
    run.results.targets.push(
      check(
        `req/s ${ours} / ${theirs}`,
        mine.median.rps / other.median.rps,
        '>=',
        target,
        `per round ${ratiosText(perRound)}, median ${median(perRound).toFixed(2)}`,
      ),
    );
  }
  run.results.report.pairedRatios = pairedRatiosReport;
}

/** The single-tenant cases `--only` leaves: services started and checked, rounds, summaries, targets. */
export async function measureSingleTenant(run: RouterRun, cases: string[]): Promise<void> {
  const services = await startPair(run);
  const runs = await runRounds(run, cases, services);
  const summaries = SINGLE_NAMES.filter((name) => runs.has(name)).map((name) =>
    summarize(name, runs.get(name)!),
  );
  run.results.cases.push(...summaries);
  failOnErrors(run, summaries);
  await services.tenantplane.stop();
  await services.baseline.stop();
  pairTargets(run, run.results.cases);
}
