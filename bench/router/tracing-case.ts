/**
 * bench:router's tracing comparison (`--tracing on`): the shard tenant's list against two tenantplane
 * services that differ only in OTEL_EXPORTER_OTLP_ENDPOINT, the one exporting every request's spans to an
 * OTLP sink in this process that discards them, compared as paired-services.ts says. Reported: the on/off
 * throughput ratio.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { profiling, type RouterRun } from './context.js';
import type { OtlpSink } from './otlp-sink.js';
import { listFrom, measurePaired } from './paired-services.js';
import { type Service, startService } from './services.js';

/** The two services of the tracing comparison; `--only tracing` selects both. */
export const TRACING_CASE_NAMES = ['tracing-off', 'tracing-on'] as const;

/** The environment that makes a tenantplane service export its spans to the sink. */
export function tracingEnv(sink: OtlpSink): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint };
}

async function startTracingServices(
  run: RouterRun,
  sink: OtlpSink,
  round: number,
): Promise<Record<string, Service>> {
  const services: Record<string, Service> = {};
  const { OTEL_EXPORTER_OTLP_ENDPOINT: _exported, ...untraced } = run.tenantplaneEnv;
  const pair = [
    ['tracing-off', untraced],
    ['tracing-on', { ...untraced, ...tracingEnv(sink) }],
  ] as const;
  // Which starts first alternates too, in case starting second made a difference.
  for (const [name, env] of round % 2 === 0 ? pair : [...pair].reverse()) {
    services[name] = await startService({
      name: `tenantplane-${name}-round${round + 1}`,
      script: 'src/cli/main.ts',
      args: ['serve'],
      env,
      logFile: `${run.filePrefix}-tenantplane-${name}.log`,
      ...profiling(run),
    });
  }
  return services;
}

/** Checks that tracing-on's spans reach the sink (the first batch within the SDK's 5 s schedule). */
async function verifyTracingServices(
  sink: OtlpSink,
  services: Record<string, Service>,
  token: string,
): Promise<string> {
  const before = sink.received().bytes;
  const answer = await listFrom(services['tracing-on']!, token);
  await answer.text();
  for (let waited = 0; sink.received().bytes === before; waited += 100) {
    if (waited > 15_000) throw new BenchFailure('tracing-on exported no spans to the OTLP sink within 15 s');
    await sleep(100);
  }
  return 'tracing-on exports its spans to the OTLP sink; tracing-off has no OTLP endpoint';
}

/** The tracing comparison: `--rounds` fresh pairs, their summaries, the on/off ratio. */
export async function measureTracing(run: RouterRun, sink: OtlpSink): Promise<void> {
  log(
    `tracing: each round a fresh tenantplane exporting spans over OTLP (to ${sink.endpoint}), and one without`,
  );
  await measurePaired(run, {
    names: TRACING_CASE_NAMES,
    what: 'tracing exported over OTLP',
    start: (round) => startTracingServices(run, sink, round),
    verify: (services, token) => verifyTracingServices(sink, services, token),
    minimumRatio: 0.7,
  });
  const { exports, bytes } = sink.received();
  run.results.report.tracingSink = { exports, bytes };
  log(`tracing: the sink took ${exports} exports, ${(bytes / 1e6).toFixed(1)} MB of OTLP/JSON`);
}
