import path from 'node:path';
import { log } from '../lib/log.js';
import { median } from '../lib/stats.js';
import { fixed, table, targetsTable } from '../lib/tables.js';
import type { RouterResults } from './context.js';
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

/** The end of a run: the cases' table, the targets, the failures and where the record went. */
export function printResults({ report, cases, targets, failures }: RouterResults, file: string): void {
  log();
  if (cases.length > 0) {
    log(
      'median over runs. latency: of 2xx responses. svc/pg µs/req: CPU per request of the service process ' +
        "and of the PostgreSQL backends of the case's databases. svc cores: the service's CPU use. other " +
        'cores: CPU busy on the machine besides service, backends and load generator (kernel networking, ' +
        'PostgreSQL background work, other programs). steal: CPU the hypervisor took away.',
    );
    log(casesTable(cases));
    if (cases.some((summary) => summary.name === 'tenantplane-fleet')) {
      log(
        '(tenantplane-fleet pg µs/req includes every backend that ended during the run, server-wide: ' +
          'connection churn, but also autovacuum and other clients)',
      );
    }
    log();
  }
  if (targets.length > 0) {
    log(targetsTable(targets));
    log();
  }
  const fleetReport = report.fleet as { p99RatioToMainShardCase: number | null } | undefined;
  if (fleetReport?.p99RatioToMainShardCase != null) {
    log(
      `(for reference: p99 fleet / p99 tenantplane-shard of the main phase = ${fleetReport.p99RatioToMainShardCase.toFixed(3)})`,
    );
  }
  for (const failure of failures) log(`BENCH FAILURE: ${failure}`);
  log(`results: ${path.relative(process.cwd(), file)}`);
}
