/**
 * `npm run bench:migrate`: one fleet migration (add a column with a default and an index on a table with
 * rows) over N dedicated databases, timed three ways on the same fleet: tenantplane's fleet runner at
 * concurrency 1, the runner at its default concurrency, and a minimal BEGIN/SQL/COMMIT script at that same
 * concurrency. See README.md beside this file.
 */

import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import type { Tenantplane } from '../../src/tenantplane.js';
import {
  BenchFailure,
  cleanUpOnSignal,
  closeWithin,
  dropScope,
  once,
  wasInterrupted,
} from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { resultFiles, writeJson } from '../lib/results.js';
import { breakdown } from './breakdown-passes.js';
import { measureConnectionCeiling } from './connection-ceiling.js';
import {
  addBenchMigration,
  type BenchScope,
  buildFleet,
  checkState,
  createScope,
  MIGRATION_NAME,
  openPlane,
  postgresSettings,
} from './fleet.js';
import { machineDescription, sourceDigest, waitForQuiet } from './machine.js';
import { type BenchOptions, parseOptions } from './options.js';
import { profilePasses } from './profile-passes.js';
import { medianWallMs, migrateTargets, nodeCpuMsPerDatabase, printResults } from './report.js';
import { concurrencyOf, runRounds } from './rounds.js';
import {
  baselineOver,
  type MigrateFleet,
  NOT_APPLIED,
  QUIET_CORES,
  resetAfter,
  runnerDown,
  timeRunner,
} from './variants.js';

/** What cleanup has to undo, as far as the run got. */
interface Created {
  scope?: BenchScope;
  tp?: Tenantplane;
}

async function cleanUp(created: Created): Promise<void> {
  if (created.tp) {
    await closeWithin(created.tp.close()).catch((error) => log(`cleanup: closing failed: ${error}`));
  }
  if (created.scope) {
    log(`cleanup: dropping ${created.scope.prefix}_* databases and roles`);
    await dropScope(created.scope, log);
  }
}

/** The control database, server, fleet and bench migration; the runner's default concurrency. */
async function setUp(
  options: BenchOptions,
  created: Created,
  report: Record<string, unknown>,
): Promise<{ fleet: MigrateFleet; setupStarted: number }> {
  const scope = await createScope();
  created.scope = scope;
  const settings = await postgresSettings();
  (report.environment as Record<string, unknown>).postgres = settings;
  log(
    `bench:migrate  prefix ${scope.prefix}  ${options.databases} databases x ${options.rows} rows  ` +
      `${options.rounds} rounds  PostgreSQL ${settings.server_version}  node ${process.version}  ` +
      `src ${(report.source as { sha256: string }).sha256}`,
  );

  log(`setup: control database, server (max ${options.serverMaxConnections} connections), tenants`);
  const setupStarted = performance.now();
  const tp = await openPlane(scope);
  created.tp = tp;
  const fleet = await buildFleet(tp, {
    databases: options.databases,
    rows: options.rows,
    provisionConcurrency: options.provisionConcurrency,
    serverMaxConnections: options.serverMaxConnections,
    onProgress: (done) => {
      if (process.stdout.isTTY) process.stdout.write(`\r  ${done}/${options.databases} databases`);
    },
  });
  log(`${process.stdout.isTTY ? '\r' : ''}  ${fleet.length} databases with ${options.rows} deployments each`);
  const sql = await addBenchMigration(scope);

  const runner = await tp.fleetRunner();
  const targets = await runner.targets();
  if (targets.length !== fleet.length) {
    throw new BenchFailure(`the runner sees ${targets.length} databases, wanted ${fleet.length}`);
  }
  const defaultConcurrency = await runner.defaultConcurrency(targets);
  log(`  FleetRunner.defaultConcurrency = ${defaultConcurrency} (used for b and c)`);
  return { fleet: { tp, fleet, sql, defaultConcurrency, prefix: scope.prefix }, setupStarted };
}

/** Untimed: the runner up, its down file back to 0002, the baseline; checks each end state. */
async function warmUp(fleet: MigrateFleet): Promise<void> {
  log('warm-up (untimed): runner up, runner down, baseline');
  await timeRunner(fleet.tp, fleet.fleet, undefined);
  await runnerDown(fleet.tp, fleet.fleet);
  const afterDown = await checkState(fleet.fleet, NOT_APPLIED, fleet.defaultConcurrency);
  if (afterDown.length > 0) throw new BenchFailure(`runner down left: ${afterDown.slice(0, 3).join('; ')}`);
  await baselineOver(fleet, fleet.defaultConcurrency);
  await resetAfter('baseline', fleet.fleet, fleet.defaultConcurrency);
}

/** Setup, warm-up, the timed rounds, the machine's ceiling, the breakdown and profiles; prints the results. */
async function measure(
  options: BenchOptions,
  created: Created,
  report: Record<string, unknown>,
  filePrefix: string,
): Promise<void> {
  const { fleet, setupStarted } = await setUp(options, created, report);
  await warmUp(fleet);
  report.setup = {
    prefix: fleet.prefix,
    seconds: (performance.now() - setupStarted) / 1000,
    databases: fleet.fleet.length,
    rowsPerDatabase: options.rows,
    defaultConcurrency: fleet.defaultConcurrency,
    migration: { name: MIGRATION_NAME, sql: fleet.sql },
  };

  const rounds = await runRounds(fleet, options);
  report.discardedContendedRuns = rounds.discarded;
  report.runs = rounds.runs;
  const concurrency = concurrencyOf(fleet);
  const medians = medianWallMs(rounds);
  const targets = migrateTargets(medians);
  const medianReport: Record<string, unknown> = { wallMs: medians, concurrency };
  report.medians = medianReport;
  report.targets = targets;

  if (options.quietWait > 0) await waitForQuiet(QUIET_CORES, options.quietWait);
  const urls = fleet.fleet.map((database) => database.url);
  const ceiling = await measureConnectionCeiling(urls, fleet.defaultConcurrency);
  report.connectionCeiling = ceiling;

  if (!options.skipBreakdown) {
    log('breakdown (instrumented, untimed in the rounds): where the time per database goes');
    report.breakdown = await breakdown(fleet, options.quietWait, options.contendedRetries);
  }
  if (options.profile) {
    log('CPU profiles (this process only) of one runner and one baseline pass');
    report.profiles = await profilePasses(fleet, fleet.defaultConcurrency, options.quietWait, filePrefix);
  }

  const nodeCpu = nodeCpuMsPerDatabase(rounds, fleet.fleet.length);
  medianReport.nodeCpuMsPerDatabase = nodeCpu;
  const databases = fleet.fleet.length;
  printResults({ rounds, databases, concurrency, medians, nodeCpu, targets, ceiling }, options.rounds);
}

async function main(options: BenchOptions): Promise<number> {
  const startedAt = new Date();
  const files = resultFiles('migrate', startedAt);
  const report: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    options,
    environment: machineDescription(),
    source: sourceDigest(PACKAGE_ROOT),
  };
  const created: Created = {};
  const cleanup = once(() => cleanUp(created));
  cleanUpOnSignal('dropping the bench databases', cleanup, false);

  try {
    await measure(options, created, report, files.prefix);
    await writeJson(files.json, report);
    log();
    log(`results written to ${path.relative(process.cwd(), files.json)}`);
    return 0;
  } catch (error) {
    // Interrupted: the signal handler cleans up and exits; what fails meanwhile is its doing.
    if (wasInterrupted()) return 130;
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await writeJson(files.json, report).catch(() => {});
    log(
      `\nbench failed: ${error instanceof BenchFailure ? error.message : ((error as Error)?.stack ?? error)}`,
    );
    return 1;
  } finally {
    await cleanup();
  }
}

const options = parseOptions(process.argv.slice(2));
if (options) {
  process.exitCode = await main(options);
}
