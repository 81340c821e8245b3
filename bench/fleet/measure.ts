import { type LoadResult, runLoad, waitForQuiet } from '../router/load.js';
import type { ConnectionPeak, ConnectionSampler } from './sampler.js';

export interface CaseSpec {
  name: string;
  /** Base URL of the service, or of each instance (autocannon spreads its connections round-robin). */
  url: string | string[];
  tokens: string[];
  /** Tokens by instance host instead of `tokens` (see LoadSpec.tokensByHost). */
  tokensByHost?: Record<string, string[]>;
  /** The service's processes (the instances, or the peer and PgBouncer): their CPU is measured together. */
  servicePids?: number[];
}

export interface MeasureSettings {
  connections: number;
  warmup: number;
  duration: number;
  quietWait: number;
}

export interface CaseRun {
  name: string;
  round: number;
  load: LoadResult;
  /** Application-role connections on the server over the case, warm-up included. */
  connections: ConnectionPeak;
  /** Sessions PostgreSQL opened on the bench's tenant databases during the measured run. */
  newSessions: number;
  /** Seconds spent waiting for a quiet machine first. */
  waited: number;
}

/** Warm-up, then the measured run, with the connection sampler running throughout. */
export async function measureCase(
  spec: CaseSpec,
  settings: MeasureSettings,
  sampler: ConnectionSampler,
  round: number,
): Promise<CaseRun> {
  const load = {
    url: spec.url,
    connections: settings.connections,
    tokens: spec.tokens,
    ...(spec.tokensByHost ? { tokensByHost: spec.tokensByHost } : {}),
  };
  const waited = settings.quietWait > 0 ? await waitForQuiet(0.25, settings.quietWait) : 0;
  sampler.start();
  let connections: ConnectionPeak;
  let result: LoadResult;
  let sessionsBefore: number;
  try {
    if (settings.warmup > 0) await runLoad({ ...load, seconds: settings.warmup });
    sessionsBefore = await sampler.sessions();
    result = await runLoad({
      ...load,
      seconds: settings.duration,
      ...(spec.servicePids === undefined ? {} : { servicePid: spec.servicePids }),
    });
  } finally {
    connections = sampler.stop();
  }
  // Backends report their session to the statistics system when their first transaction ends.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const newSessions = (await sampler.sessions()) - sessionsBefore;
  return { name: spec.name, round, load: result, connections, newSessions, waited };
}

export function describeRun(run: CaseRun): string {
  const { load } = run;
  const bad = load.errors + load.timeouts + load.non2xx;
  return (
    `  ${run.name.padEnd(16)} ${load.rps.toFixed(0).padStart(6)} req/s  p50 ${load.latencyMs.p50.toFixed(2)} ms` +
    `  p99 ${load.latencyMs.p99.toFixed(2)} ms  ` +
    (bad === 0
      ? 'no errors'
      : `errors ${load.errors + load.timeouts}, non-2xx ${load.non2xx} ${JSON.stringify(load.statusCodes)}`) +
    `  peak ${run.connections.peak} app connections (server ${run.connections.peakAll})` +
    `  ${run.newSessions} new sessions (${(run.newSessions / load.seconds).toFixed(1)}/s)` +
    (load.serviceCpu ? `  svc ${load.serviceCpu.coreShare.toFixed(2)} cores` : '') +
    `  other ${load.machine.otherCores.toFixed(2)} cores` +
    (run.waited > 1.5 ? `  (waited ${run.waited.toFixed(0)} s for a quiet box)` : '')
  );
}
