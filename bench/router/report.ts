import type { LoadResult } from './load.js';

export interface CaseSummary {
  name: string;
  /** Measured runs, in the order they ran. */
  runs: LoadResult[];
  /** Median over runs of each figure separately. */
  median: {
    rps: number;
    p50: number;
    p90: number;
    p99: number;
    serviceCpuMicrosPerRequest: number;
    serviceCoreShare: number;
    postgresCpuMicrosPerRequest: number;
    loadGeneratorCoreShare: number;
    otherCores: number;
    stealCores: number;
  };
  requests: number;
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

export interface TargetCheck {
  name: string;
  value: number;
  comparison: '>=' | '<=' | '==';
  target: number;
  pass: boolean;
  note?: string;
}

/** The `q` quantile (0..1) of the finite values, interpolating between neighbours. */
export function quantile(values: number[], q: number): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const position = q * (finite.length - 1);
  const below = Math.floor(position);
  const above = Math.min(finite.length - 1, below + 1);
  return finite[below]! + (finite[above]! - finite[below]!) * (position - below);
}

/** The median of the finite values: the middle one, or the mean of the middle two. */
export function median(values: number[]): number {
  return quantile(values, 0.5);
}

export function summarize(name: string, runs: LoadResult[]): CaseSummary {
  const statusCodes: Record<string, number> = {};
  for (const run of runs) {
    for (const [code, count] of Object.entries(run.statusCodes)) {
      statusCodes[code] = (statusCodes[code] ?? 0) + count;
    }
  }
  return {
    name,
    runs,
    median: {
      rps: median(runs.map((run) => run.rps)),
      p50: median(runs.map((run) => run.latencyMs.p50)),
      p90: median(runs.map((run) => run.latencyMs.p90)),
      p99: median(runs.map((run) => run.latencyMs.p99)),
      serviceCpuMicrosPerRequest: median(runs.map((run) => run.serviceCpu?.microsPerRequest ?? Number.NaN)),
      serviceCoreShare: median(runs.map((run) => run.serviceCpu?.coreShare ?? Number.NaN)),
      postgresCpuMicrosPerRequest: median(runs.map((run) => run.postgresCpu?.microsPerRequest ?? Number.NaN)),
      loadGeneratorCoreShare: median(runs.map((run) => run.loadGeneratorCoreShare)),
      otherCores: median(runs.map((run) => run.machine.otherCores)),
      stealCores: median(runs.map((run) => run.machine.stealCores)),
    },
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    errors: runs.reduce((sum, run) => sum + run.errors + run.timeouts, 0),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    statusCodes,
  };
}

export function check(
  name: string,
  value: number,
  comparison: TargetCheck['comparison'],
  target: number,
  note?: string,
): TargetCheck {
  const pass =
    Number.isFinite(value) &&
    (comparison === '>=' ? value >= target : comparison === '<=' ? value <= target : value === target);
  return { name, value, comparison, target, pass, ...(note ? { note } : {}) };
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** A plain text table: the first column (and `leftColumns`) left-aligned, numbers right-aligned. */
export function table(header: string[], rows: string[][], leftColumns: number[] = []): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const left = new Set([0, ...leftColumns]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export function casesTable(cases: CaseSummary[]): string {
  return table(
    [
      'case',
      'req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'errors',
      'non-2xx',
      'svc µs/req',
      'pg µs/req',
      'svc cores',
      'other cores',
      'steal',
      'req/s per run',
    ],
    cases.map((summary) => [
      summary.name,
      fixed(summary.median.rps, 0),
      fixed(summary.median.p50, 2),
      fixed(summary.median.p90, 2),
      fixed(summary.median.p99, 2),
      String(summary.errors),
      String(summary.non2xx),
      fixed(summary.median.serviceCpuMicrosPerRequest, 0),
      fixed(summary.median.postgresCpuMicrosPerRequest, 0),
      fixed(summary.median.serviceCoreShare, 2),
      fixed(summary.median.otherCores, 2),
      fixed(summary.median.stealCores, 2),
      summary.runs.map((run) => fixed(run.rps, 0)).join(' '),
    ]),
  );
}

export function targetsTable(targets: TargetCheck[]): string {
  return table(
    ['target', 'value', 'wanted', 'result', 'note'],
    targets.map((target) => [
      target.name,
      fixed(target.value, target.comparison === '==' ? 0 : 3),
      `${target.comparison} ${target.target}`,
      target.pass ? 'PASS' : 'FAIL',
      target.note ?? '',
    ]),
    [4],
  );
}
