import { adminQuery } from '../../test/support/test-plane.js';
import { log } from '../lib/log.js';
import { type LoadResult, runLoad, waitForQuiet } from './load.js';
import type { BenchOptions } from './options.js';
import type { Service } from './services.js';

export interface CaseSpec {
  name: string;
  service: Service;
  tokens: string[];
  seconds: number;
  /** Databases whose backends' CPU is counted. */
  databases: string[];
  /** Count backends that ended during the run too, and the sessions opened (connection churn). */
  countEndedBackends?: boolean;
}

async function sessionsOf(databases: string[]): Promise<number> {
  const result = await adminQuery<{ sessions: string }>(
    'postgres',
    'SELECT coalesce(sum(sessions), 0)::text AS sessions FROM pg_stat_database WHERE datname = ANY($1)',
    [databases],
  );
  return Number(result.rows[0]!.sessions);
}

/** One case: a quiet machine awaited, the warm-up, the measured run; prints its line. */
export async function measure(spec: CaseSpec, options: BenchOptions): Promise<LoadResult> {
  const load = { url: spec.service.url, connections: options.connections, tokens: spec.tokens };
  const waited = options.quietWait > 0 ? await waitForQuiet(0.25, options.quietWait) : 0;
  if (options.warmup > 0) await runLoad({ ...load, seconds: options.warmup });
  const sessionsBefore = spec.countEndedBackends ? await sessionsOf(spec.databases) : 0;
  const result = await runLoad({
    ...load,
    seconds: spec.seconds,
    servicePid: spec.service.pid,
    databases: spec.databases,
    countEndedBackends: spec.countEndedBackends ?? false,
  });
  if (spec.countEndedBackends) {
    // Backends report their session count to the statistics system within about a second.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    result.newConnections = (await sessionsOf(spec.databases)) - sessionsBefore;
  }
  log(describeRun(spec.name, result, waited));
  return result;
}

function describeRun(name: string, result: LoadResult, waited: number): string {
  const bad = result.errors + result.timeouts + result.non2xx;
  return (
    `  ${name.padEnd(28)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.latencyMs.p50.toFixed(2)} ms` +
    `  p99 ${result.latencyMs.p99.toFixed(2)} ms  ${bad === 0 ? 'no errors' : `errors/non-2xx ${bad} ${JSON.stringify(result.statusCodes)}`}` +
    (result.serviceCpu ? `  svc ${result.serviceCpu.coreShare.toFixed(2)} cores` : '') +
    (result.postgresCpu ? `  pg ${result.postgresCpu.coreShare.toFixed(2)} cores` : '') +
    `  other ${result.machine.otherCores.toFixed(2)} cores` +
    (result.machine.stealCores > 0.05 ? `  steal ${result.machine.stealCores.toFixed(2)} cores` : '') +
    (result.newConnections === undefined
      ? ''
      : `  ${(result.newConnections / result.seconds).toFixed(0)} new pg connections/s`) +
    (waited > 1.5 ? `  (waited ${waited.toFixed(0)} s for a quiet box)` : '')
  );
}
