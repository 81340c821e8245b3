/**
 * `npm run bench:router`: tenantplane's request path against a hand-written express + jose + pg baseline,
 * on the same PostgreSQL, for a dedicated and a shard tenant, then a 2,000-tenant fleet on a server whose
 * router budget is smaller than the number of its databases. See README.md beside this file.
 */

import os from 'node:os';
import { adminQuery } from '../../test/support/test-plane.js';
import { cleanUpOnSignal, closeWithin, dropScope, failureText, once } from '../lib/cleanup.js';
import { log, warn } from '../lib/log.js';
import { wanted } from '../lib/options.js';
import { removeEmptyLogs, resultFiles, writeJson } from '../lib/results.js';
import type { RouterResults, RouterRun } from './context.js';
import { type BenchPlane, type BenchScope, createPlane, createScope, serviceEnv } from './fixtures.js';
import { measureFleet } from './fleet-case.js';
import { stopCurrentLoad } from './load.js';
import { METERING_CASE_NAMES, measureMetering } from './metering-case.js';
import { measureOperations, OPS_CASE_NAMES } from './operations.js';
import { type BenchOptions, parseOptions } from './options.js';
import { type OtlpSink, startOtlpSink } from './otlp-sink.js';
import { printResults } from './report.js';
import { stopAllServices } from './services.js';
import { measureSingleTenant, singleTenantCases } from './single-tenant.js';
import { measureTracing, TRACING_CASE_NAMES, tracingEnv } from './tracing-case.js';

/** What cleanup has to undo, as far as the run got. */
interface Created {
  scope?: BenchScope;
  plane?: BenchPlane;
  /** The OTLP sink of `--tracing on`. */
  sink?: OtlpSink;
}

async function cleanUp(created: Created): Promise<void> {
  stopCurrentLoad();
  await stopAllServices().catch((error) => warn(`cleanup: stopping services failed: ${error}`));
  if (created.plane) {
    await closeWithin(created.plane.tp.close()).catch((error) => warn(`cleanup: closing failed: ${error}`));
  }
  if (created.scope) await dropScope(created.scope, warn);
  await created.sink?.close();
}

/** The control database, server, shard, tenants and rows, and the tenantplane services' environment. */
async function setUp(
  options: BenchOptions,
  created: Created,
  results: RouterResults,
): Promise<{ plane: BenchPlane; tenantplaneEnv: Record<string, string> }> {
  const scope = await createScope();
  created.scope = scope;
  log(`bench:router  prefix ${scope.prefix}  ${os.cpus().length} CPUs  node ${process.version}`);
  log(
    `load: ${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s measured per run, ` +
      `${options.rounds} rounds`,
  );
  const version = await adminQuery<{ server_version: string }>('postgres', 'SHOW server_version');
  (results.report.environment as Record<string, unknown>).postgres = version.rows[0]!.server_version;

  log('setup: control database, server, shard, tenants, rows');
  const setupStarted = performance.now();
  const plane = await createPlane(scope, options);
  created.plane = plane;
  const { dedicated, shard } = plane;
  results.report.setup = {
    prefix: scope.prefix,
    seconds: (performance.now() - setupStarted) / 1000,
    dedicated: { tenant: dedicated.id, database: dedicated.databaseName, poolSize: dedicated.poolSize },
    shard: {
      tenant: shard.id,
      database: shard.databaseName,
      poolSize: shard.poolSize,
      neighbours: plane.neighbours.length,
    },
    rowsPerTenant: options.rows,
  };
  if (options.tracing === 'on') created.sink = await startOtlpSink();
  const tenantplaneEnv = serviceEnv(plane, {
    ROUTER_SHARD_POOL_SIZE: String(options.poolSize),
    AUTH_TOKEN_CACHE_SIZE: String(options.tokenCacheSize),
    USAGE_METERING: options.metering === 'off' ? 'off' : 'on',
    ...(created.sink ? tracingEnv(created.sink) : {}),
  });
  return { plane, tenantplaneEnv };
}

/** The parts `--only` (and `--fleet-tenants 0`) leave, one after another. */
async function measureAll(run: RouterRun, sink: OtlpSink | undefined): Promise<void> {
  const { options } = run;
  const single = singleTenantCases(run);
  if (single.length > 0) await measureSingleTenant(run, single);
  if (OPS_CASE_NAMES.some((name) => wanted(options.only, name))) await measureOperations(run);
  if (sink && TRACING_CASE_NAMES.some((name) => wanted(options.only, name))) await measureTracing(run, sink);
  if (options.metering === 'both' && METERING_CASE_NAMES.some((name) => wanted(options.only, name))) {
    await measureMetering(run);
  }
  if (options.fleetTenants > 0 && wanted(options.only, 'fleet')) await measureFleet(run);
}

async function main(options: BenchOptions): Promise<number> {
  const startedAt = new Date();
  const files = resultFiles('router', startedAt);
  const profileDir = options.profile ? `${files.prefix}-profiles` : undefined;
  const results: RouterResults = {
    report: {
      startedAt: startedAt.toISOString(),
      options,
      environment: {
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        loadAverage: os.loadavg(),
      },
    },
    cases: [],
    targets: [],
    failures: [],
  };

  const created: Created = {};
  const cleanup = once(() => cleanUp(created));
  cleanUpOnSignal('stopping the load, the services and dropping the bench databases', cleanup, true);
  try {
    const { plane, tenantplaneEnv } = await setUp(options, created, results);
    await measureAll(
      { options, plane, tenantplaneEnv, filePrefix: files.prefix, profileDir, results },
      created.sink,
    );
  } catch (error) {
    results.failures.push(failureText(error));
  } finally {
    await cleanup();
  }

  const { report, cases, targets, failures } = results;
  report.finishedAt = new Date().toISOString();
  report.cases = Object.fromEntries(cases.map((summary) => [summary.name, summary]));
  report.targets = targets;
  report.failures = failures;
  if (profileDir) report.profiles = profileDir;
  await writeJson(files.json, report);
  // Keep the services' logs only when they said something (warnings and errors).
  await removeEmptyLogs(files.prefix);
  printResults(results, files.json);
  return failures.length === 0 ? 0 : 1;
}

const options = parseOptions(process.argv.slice(2));
if (options) process.exitCode = await main(options);
