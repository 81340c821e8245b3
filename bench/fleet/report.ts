import { median } from '../lib/stats.js';
import { check, fixed, ratiosText, type TargetCheck, table } from '../lib/tables.js';
import { type CaseSummary, summarize } from '../router/report.js';
import type { CaseRun } from './measure.js';

export const CASE_NAMES = [
  'warm-shard',
  'warm-dedicated',
  'fleet-1',
  'warm-shard-3',
  'fleet-3',
  'fleet-3-affine',
  'peer',
  'peer-3',
] as const;
export type CaseName = (typeof CASE_NAMES)[number];

export interface FleetCaseSummary extends CaseSummary {
  /** Most application-role connections seen in any round (warm-up included). */
  peakConnections: number;
  /** Most connections to the control database (the services' catalog pools and listeners). */
  peakControlConnections: number;
  /** Most client connections to the server, from anyone. */
  peakAllConnections: number;
  /** Median over rounds of the sessions opened per measured second. */
  newSessionsPerSecond: number;
}

export function summarizeCase(name: string, runs: CaseRun[]): FleetCaseSummary {
  return {
    ...summarize(
      name,
      runs.map((run) => run.load),
    ),
    peakConnections: Math.max(...runs.map((run) => run.connections.peak)),
    peakControlConnections: Math.max(...runs.map((run) => run.connections.peakControl)),
    peakAllConnections: Math.max(...runs.map((run) => run.connections.peakAll)),
    newSessionsPerSecond: median(runs.map((run) => run.newSessions / run.load.seconds)),
  };
}

export function fleetTable(cases: FleetCaseSummary[]): string {
  return table(
    [
      'case',
      'req/s',
      'p50 ms',
      'p99 ms',
      'errors',
      'non-2xx',
      'peak conns',
      'catalog',
      'all',
      'new sessions/s',
      'svc cores',
      'other cores',
      'req/s per round',
    ],
    cases.map((summary) => [
      summary.name,
      fixed(summary.median.rps, 0),
      fixed(summary.median.p50, 2),
      fixed(summary.median.p99, 2),
      String(summary.errors),
      String(summary.non2xx),
      String(summary.peakConnections),
      String(summary.peakControlConnections),
      String(summary.peakAllConnections),
      fixed(summary.newSessionsPerSecond, 1),
      fixed(summary.median.serviceCoreShare, 2),
      fixed(summary.median.otherCores, 2),
      summary.runs.map((run) => fixed(run.rps, 0)).join(' '),
    ]),
  );
}

/** Per-round ratio of two cases' figures, for the note beside a target. */
function perRound(
  a: FleetCaseSummary,
  b: FleetCaseSummary,
  figure: (summary: FleetCaseSummary, round: number) => number,
): string {
  const ratios = a.runs.map((_, round) => figure(a, round) / figure(b, round));
  return `per round ${ratiosText(ratios)}`;
}

const rpsOf = (summary: FleetCaseSummary, round: number) => summary.runs[round]?.rps ?? Number.NaN;
const p99Of = (summary: FleetCaseSummary, round: number) => summary.runs[round]?.latencyMs.p99 ?? Number.NaN;

/**
 * What each fleet case is held against: the warm tenant and the peer with as many instances as it has, or,
 * when those did not run (`--only`), the single-instance ones (said in the note).
 */
const BASELINES = {
  'fleet-1': { warm: ['warm-shard'], peer: ['peer'] },
  'fleet-3': { warm: ['warm-shard-3', 'warm-shard'], peer: ['peer-3', 'peer'] },
  'fleet-3-affine': { warm: ['warm-shard-3', 'warm-shard'], peer: ['peer-3', 'peer'] },
} as const;

/** The targets, for the cases that ran (each is reported, none is asserted). */
export function fleetTargets(cases: FleetCaseSummary[], routerBudget: number): TargetCheck[] {
  const byName = new Map(cases.map((summary) => [summary.name, summary]));
  const first = (names: readonly string[]) =>
    names.map((name) => byName.get(name)).find((summary) => summary !== undefined);
  const warmDedicated = byName.get('warm-dedicated');
  const targets: TargetCheck[] = [];
  for (const [name, baselines] of Object.entries(BASELINES)) {
    const fleet = byName.get(name);
    if (!fleet) continue;
    const warm = first(baselines.warm);
    const peer = first(baselines.peer);
    const vsDedicated = (figure: (summary: FleetCaseSummary) => number) =>
      warmDedicated ? [`against warm-dedicated ${fixed(figure(fleet) / figure(warmDedicated), 2)}`] : [];
    if (warm) {
      targets.push(
        check(
          `req/s ${name} / ${warm.name}`,
          fleet.median.rps / warm.median.rps,
          '>=',
          0.8,
          [perRound(fleet, warm, rpsOf), ...vsDedicated((summary) => summary.median.rps)].join('; '),
        ),
      );
    }
    if (peer) {
      targets.push(
        check(
          `req/s ${name} / ${peer.name}`,
          fleet.median.rps / peer.median.rps,
          '>=',
          1,
          perRound(fleet, peer, rpsOf),
        ),
      );
    }
    if (warm) {
      targets.push(
        check(
          `p99 ${name} / p99 ${warm.name}`,
          fleet.median.p99 / warm.median.p99,
          '<=',
          3,
          [perRound(fleet, warm, p99Of), ...vsDedicated((summary) => summary.median.p99)].join('; '),
        ),
      );
    }
  }
  for (const summary of cases) {
    targets.push(
      check(
        `errors + non-2xx ${summary.name}`,
        summary.errors + summary.non2xx,
        '==',
        0,
        summary.non2xx > 0 ? `status codes ${JSON.stringify(summary.statusCodes)}` : undefined,
      ),
    );
  }
  for (const summary of cases) {
    if (summary.name.startsWith('warm')) continue;
    targets.push(
      check(
        `peak app connections ${summary.name}`,
        summary.peakConnections,
        '<=',
        routerBudget,
        'the router budget; PgBouncer is capped at the same',
      ),
    );
  }
  return targets;
}
