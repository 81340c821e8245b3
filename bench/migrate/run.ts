/**
 * `npm run bench:migrate`: one fleet migration (add a column with a default and an index on a table with
 * rows) over N dedicated databases, timed three ways on the same fleet: tenantplane's fleet runner at
 * concurrency 1, the runner at its default concurrency, and a minimal BEGIN/SQL/COMMIT script at that same
 * concurrency. See README.md beside this file.
 */

import { mkdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FleetRunResult } from '../../src/migrations/fleet-runner.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import type { Tenantplane } from '../../src/tenantplane.js';
import { dropEverything } from '../../test/support/test-plane.js';
import { runBaseline } from './baseline.js';
import { type BreakdownPass, Probe, STEP_ORDER } from './breakdown.js';
import { measureConnectionCeiling } from './connection-ceiling.js';
import {
  addBenchMigration,
  type BenchScope,
  buildFleet,
  checkpoint,
  checkState,
  createScope,
  type FleetDatabase,
  MIGRATION_NAME,
  type MigrationState,
  openPlane,
  PREVIOUS_MIGRATION,
  postgresSettings,
  verifyAndReset,
} from './fleet.js';
import {
  type CpuUse,
  cpuSample,
  cpuSince,
  machineDescription,
  sourceDigest,
  waitForQuiet,
} from './machine.js';
import { type BenchOptions, parseOptions } from './options.js';
import { type ProfileSummary, profiled, summarizeProfile } from './profile.js';

const RESULTS_DIR = path.join(PACKAGE_ROOT, 'bench/results');
const ACTOR = 'bench-migrate';
const SPEEDUP_TARGET = 1.8;
const BASELINE_RATIO_TARGET = 1.25;
const QUIET_CORES = 0.3;
/** Other processes' cores during a run above which the run is marked contended. */
const CONTENDED_CORES = 0.2;
const isContended = (cpu: CpuUse) => (cpu.otherCores ?? 0) > CONTENDED_CORES;

type VariantName = 'runner-c1' | 'runner-default' | 'baseline';
const VARIANTS: VariantName[] = ['runner-c1', 'runner-default', 'baseline'];
const LABELS: Record<VariantName, string> = {
  'runner-c1': 'a  runner, concurrency 1',
  'runner-default': 'b  runner, default concurrency',
  baseline: 'c  baseline script',
};

/** A failure of the bench itself (as opposed to a missed target): the run exits non-zero. */
class BenchFailure extends Error {}

function log(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

function distribution(values: number[]): { p50: number; p95: number; max: number; mean: number } {
  return {
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    max: Math.max(...values),
    mean: values.reduce((sum, value) => sum + value, 0) / (values.length || 1),
  };
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const fixed = (value: number, digits = 1) => value.toFixed(digits);

interface TimedRun {
  round: number;
  variant: VariantName;
  concurrency: number;
  wallMs: number;
  /** Runner only: tp.fleetRunner() (loading the migration files), included in wallMs. */
  loadMs?: number;
  /** Per database: runner's own per-target durationMs (admin URL lookup + migrateDatabase); baseline's. */
  perDatabaseMs: { p50: number; p95: number; max: number; mean: number };
  cpu: CpuUse;
  waitedForQuietS: number;
}

function checkRunnerResult(result: FleetRunResult, fleet: FleetDatabase[], direction: 'up' | 'down'): void {
  const problems: string[] = [];
  if (result.status !== 'succeeded') problems.push(`status ${result.status}`);
  for (const failed of result.failed) problems.push(`${failed.databaseName}: ${failed.error}`);
  if (result.targets.length !== fleet.length)
    problems.push(`${result.targets.length} targets, wanted ${fleet.length}`);
  const wrong = result.targets.filter(
    (target) => target.status === 'succeeded' && target.applied.join() !== MIGRATION_NAME,
  );
  const idle = result.targets.filter((target) => target.status !== 'succeeded');
  if (wrong.length > 0)
    problems.push(`${wrong.length} targets applied something else than ${MIGRATION_NAME}`);
  if (idle.length > 0) problems.push(`${idle.length} targets did not migrate (${idle[0]!.status})`);
  if (problems.length > 0) {
    throw new BenchFailure(`fleet runner ${direction} run broke: ${problems.slice(0, 5).join('; ')}`);
  }
}

interface RunnerTiming {
  wallMs: number;
  loadMs: number;
  result: FleetRunResult;
  /** Runner only: ms from run() start to each target's start and done events, keyed by database id. */
  events: { firstStartMs: number; lastDoneMs: number; perTargetMs: number[] };
}

async function timeRunner(
  tp: Tenantplane,
  fleet: FleetDatabase[],
  concurrency: number | undefined,
): Promise<RunnerTiming> {
  const started = performance.now();
  const runner = await tp.fleetRunner();
  const loaded = performance.now();
  const starts = new Map<string, number>();
  const perTargetMs: number[] = [];
  let firstStart = Number.POSITIVE_INFINITY;
  let lastDone = 0;
  runner.on('event', (event) => {
    const now = performance.now();
    if (event.type === 'target-start') {
      starts.set(event.databaseId, now);
      firstStart = Math.min(firstStart, now);
    } else if (event.type === 'target-done') {
      perTargetMs.push(now - (starts.get(event.result.databaseId) ?? now));
      lastDone = Math.max(lastDone, now);
    }
  });
  const result = await runner.run({
    direction: 'up',
    actor: ACTOR,
    ...(concurrency === undefined ? {} : { concurrency }),
  });
  const ended = performance.now();
  checkRunnerResult(result, fleet, 'up');
  return {
    wallMs: ended - started,
    loadMs: loaded - started,
    result,
    events: { firstStartMs: firstStart - loaded, lastDoneMs: ended - lastDone, perTargetMs },
  };
}

const APPLIED_BY_RUNNER: MigrationState = { column: true, index: true, recorded: true };
const APPLIED_BY_BASELINE: MigrationState = { column: true, index: true, recorded: false };
const NOT_APPLIED: MigrationState = { column: false, index: false, recorded: false };

async function resetAfter(variant: VariantName, fleet: FleetDatabase[], concurrency: number): Promise<void> {
  const problems = await verifyAndReset(
    fleet,
    variant === 'baseline' ? APPLIED_BY_BASELINE : APPLIED_BY_RUNNER,
    concurrency,
  );
  if (problems.length > 0) {
    throw new BenchFailure(
      `after ${variant}, ${problems.length} database(s) are not as expected: ${problems.slice(0, 3).join('; ')}`,
    );
  }
}

async function main(options: BenchOptions): Promise<number> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultFile = path.join(RESULTS_DIR, `migrate-${stamp}.json`);
  const report: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    options,
    environment: machineDescription(),
    source: sourceDigest(PACKAGE_ROOT),
  };

  let scope: BenchScope | undefined;
  let tp: Tenantplane | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      if (tp) {
        const closing = tp.close();
        const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
        await Promise.race([closing, timeout]).catch((error) => log(`cleanup: closing failed: ${error}`));
      }
      if (scope) {
        log(`cleanup: dropping ${scope.prefix}_* databases and roles`);
        await dropEverything(scope.prefix).catch((error) =>
          log(`cleanup: dropping ${scope?.prefix}_* failed: ${error}`),
        );
        await rm(scope.dataDir, { recursive: true, force: true });
      }
    })();
    return cleaning;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    log(`\n${signal}: dropping the bench databases`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    scope = await createScope();
    const settings = await postgresSettings();
    (report.environment as Record<string, unknown>).postgres = settings;
    log(
      `bench:migrate  prefix ${scope.prefix}  ${options.databases} databases x ${options.rows} rows  ` +
        `${options.rounds} rounds  PostgreSQL ${settings.server_version}  node ${process.version}  ` +
        `src ${(report.source as { sha256: string }).sha256}`,
    );

    log(`setup: control database, server (max ${options.serverMaxConnections} connections), tenants`);
    const setupStarted = performance.now();
    tp = await openPlane(scope);
    const fleet = await buildFleet(tp, {
      databases: options.databases,
      rows: options.rows,
      provisionConcurrency: options.provisionConcurrency,
      serverMaxConnections: options.serverMaxConnections,
      onProgress: (done) => {
        if (process.stdout.isTTY) process.stdout.write(`\r  ${done}/${options.databases} databases`);
      },
    });
    log(
      `${process.stdout.isTTY ? '\r' : ''}  ${fleet.length} databases with ${options.rows} deployments each`,
    );
    const sql = await addBenchMigration(scope);
    const prefix = scope.prefix;

    const runner = await tp.fleetRunner();
    const targets = await runner.targets();
    if (targets.length !== fleet.length) {
      throw new BenchFailure(`the runner sees ${targets.length} databases, wanted ${fleet.length}`);
    }
    const defaultConcurrency = await runner.defaultConcurrency(targets);
    const concurrencyOf: Record<VariantName, number> = {
      'runner-c1': 1,
      'runner-default': defaultConcurrency,
      baseline: defaultConcurrency,
    };
    log(`  FleetRunner.defaultConcurrency = ${defaultConcurrency} (used for b and c)`);

    // Warm-up, untimed: the runner up, its down file back to 0002, the baseline; checks each end state.
    log('warm-up (untimed): runner up, runner down, baseline');
    await timeRunner(tp, fleet, undefined);
    const down = await (await tp.fleetRunner()).run({
      direction: 'down',
      to: PREVIOUS_MIGRATION,
      actor: ACTOR,
    });
    checkRunnerResult(down, fleet, 'down');
    const afterDown = await checkState(fleet, NOT_APPLIED, defaultConcurrency);
    if (afterDown.length > 0) throw new BenchFailure(`runner down left: ${afterDown.slice(0, 3).join('; ')}`);
    await runBaseline({ urls: fleet.map((database) => database.url), sql, concurrency: defaultConcurrency });
    await resetAfter('baseline', fleet, defaultConcurrency);
    report.setup = {
      prefix: scope.prefix,
      seconds: (performance.now() - setupStarted) / 1000,
      databases: fleet.length,
      rowsPerDatabase: options.rows,
      defaultConcurrency,
      migration: { name: MIGRATION_NAME, sql },
    };

    const runs: TimedRun[] = [];
    const timeVariant = async (variant: VariantName, round: number): Promise<TimedRun> => {
      const waitedForQuietS = options.quietWait > 0 ? await waitForQuiet(QUIET_CORES, options.quietWait) : 0;
      await checkpoint();
      const sample = cpuSample(prefix);
      let run: TimedRun;
      if (variant === 'baseline') {
        const result = await runBaseline({
          urls: fleet.map((database) => database.url),
          sql,
          concurrency: concurrencyOf.baseline,
        });
        run = {
          round,
          variant,
          concurrency: concurrencyOf.baseline,
          wallMs: result.durationMs,
          perDatabaseMs: distribution(result.perDatabaseMs),
          cpu: cpuSince(sample),
          waitedForQuietS,
        };
      } else {
        const timing = await timeRunner(tp!, fleet, variant === 'runner-c1' ? 1 : undefined);
        if (timing.result.concurrency !== concurrencyOf[variant]) {
          throw new BenchFailure(
            `${variant} ran at concurrency ${timing.result.concurrency}, wanted ${concurrencyOf[variant]}`,
          );
        }
        run = {
          round,
          variant,
          concurrency: timing.result.concurrency,
          wallMs: timing.wallMs,
          loadMs: timing.loadMs,
          perDatabaseMs: distribution(timing.result.targets.map((target) => target.durationMs)),
          cpu: cpuSince(sample),
          waitedForQuietS,
        };
      }
      await resetAfter(variant, fleet, defaultConcurrency);
      return run;
    };

    const describe = (run: TimedRun) =>
      `  ${LABELS[run.variant].padEnd(32)} c=${String(run.concurrency).padEnd(3)} ${ms(run.wallMs).padStart(9)}` +
      `  per db p50 ${fixed(run.perDatabaseMs.p50)} ms p95 ${fixed(run.perDatabaseMs.p95)} ms` +
      `  cores: self ${fixed(run.cpu.selfCores, 2)} machine ${run.cpu.machineCores === undefined ? '?' : fixed(run.cpu.machineCores, 2)}` +
      ` others ${run.cpu.otherCores === undefined ? '?' : fixed(run.cpu.otherCores, 2)}` +
      (run.waitedForQuietS > 1.5 ? `  (waited ${fixed(run.waitedForQuietS, 0)} s for a quiet box)` : '');
    const discarded: TimedRun[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      log(`round ${round}/${options.rounds}`);
      for (const variant of VARIANTS) {
        // A run that shared the CPU with other work is measured again (at most --contended-retries times).
        for (let attempt = 0; ; attempt++) {
          const run = await timeVariant(variant, round);
          if (isContended(run.cpu) && attempt < options.contendedRetries) {
            discarded.push(run);
            log(`${describe(run)}  contended: discarded, measuring again`);
            continue;
          }
          runs.push(run);
          log(`${describe(run)}${isContended(run.cpu) ? '  (contended)' : ''}`);
          break;
        }
      }
    }
    report.discardedContendedRuns = discarded;
    report.runs = runs;

    const medians = Object.fromEntries(
      VARIANTS.map((variant) => [
        variant,
        median(runs.filter((run) => run.variant === variant).map((run) => run.wallMs)),
      ]),
    ) as Record<VariantName, number>;
    const speedup = medians['runner-c1'] / medians['runner-default'];
    const ratio = medians['runner-default'] / medians.baseline;
    const targetsReport = [
      {
        name: 'speed-up of b (default concurrency) over a (concurrency 1)',
        value: speedup,
        target: `>= ${SPEEDUP_TARGET}`,
        pass: speedup >= SPEEDUP_TARGET,
      },
      {
        name: 'b (runner) / c (baseline) wall time',
        value: ratio,
        target: `<= ${BASELINE_RATIO_TARGET}`,
        pass: ratio <= BASELINE_RATIO_TARGET,
      },
    ];
    report.medians = { wallMs: medians, concurrency: concurrencyOf };
    report.targets = targetsReport;

    if (options.quietWait > 0) await waitForQuiet(QUIET_CORES, options.quietWait);
    const ceiling = await measureConnectionCeiling(
      fleet.map((database) => database.url),
      defaultConcurrency,
    );
    report.connectionCeiling = ceiling;

    if (!options.skipBreakdown) {
      log('breakdown (instrumented, untimed in the rounds): where the time per database goes');
      report.breakdown = await breakdown(
        tp,
        fleet,
        sql,
        defaultConcurrency,
        options.quietWait,
        scope.prefix,
        options.contendedRetries,
      );
    }

    if (options.profile) {
      log('CPU profiles (this process only) of one runner and one baseline pass');
      report.profiles = await profilePasses(tp, fleet, sql, defaultConcurrency, options.quietWait, {
        dir: RESULTS_DIR,
        stamp,
      });
    }

    // This process's CPU per database: the runner's (or baseline's) JavaScript, pg driver and socket work.
    const nodeCpuPerDatabase = Object.fromEntries(
      VARIANTS.map((variant) => [
        variant,
        median(
          runs
            .filter((run) => run.variant === variant)
            .map((run) => (run.cpu.selfCores * run.wallMs) / fleet.length),
        ),
      ]),
    ) as Record<VariantName, number>;
    (report.medians as Record<string, unknown>).nodeCpuMsPerDatabase = nodeCpuPerDatabase;

    log();
    log(`results over ${options.rounds} round(s), ${fleet.length} databases, median wall time:`);
    for (const variant of VARIANTS) {
      const all = runs.filter((run) => run.variant === variant).map((run) => ms(run.wallMs));
      log(
        `  ${LABELS[variant].padEnd(32)} c=${String(concurrencyOf[variant]).padEnd(3)} ${ms(medians[variant]).padStart(9)}` +
          `   ${fixed(medians[variant] / fleet.length, 1)} ms/db wall, ${fixed(nodeCpuPerDatabase[variant], 1)} ms/db node CPU` +
          `   (rounds: ${all.join(', ')})`,
      );
    }
    const contended = runs.filter((run) => isContended(run.cpu)).length;
    if (discarded.length > 0 || contended > 0) {
      log(
        `  note: ${discarded.length} contended run(s) discarded and measured again; ${contended} of the ${runs.length} ` +
          `kept runs shared the CPU with other processes (> ${CONTENDED_CORES} cores, "others"): noisier numbers`,
      );
    }
    log();
    log('targets:');
    for (const target of targetsReport) {
      log(
        `  ${target.pass ? 'PASS' : 'FAIL'}  ${target.name}: ${fixed(target.value, 2)} (target ${target.target})`,
      );
    }
    log(
      `  the machine's ceiling: a bare connection (connect, SELECT 1, disconnect) takes ` +
        `${fixed(ceiling.msPerConnectionAtOne, 1)} ms at c=1 and ${fixed(ceiling.msPerConnectionAtConcurrency, 1)} ms ` +
        `at c=${ceiling.concurrency}: ${fixed(ceiling.speedup, 2)}x from concurrency, with one connection per database`,
    );
    await writeFile(resultFile, `${JSON.stringify(report, null, 2)}\n`);
    log();
    log(`results written to ${path.relative(process.cwd(), resultFile)}`);
    return 0;
  } catch (error) {
    // Interrupted: the signal handler cleans up and exits; what fails meanwhile is its doing.
    if (interrupted) return 130;
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await writeFile(resultFile, `${JSON.stringify(report, null, 2)}\n`).catch(() => {});
    log(
      `\nbench failed: ${error instanceof BenchFailure ? error.message : ((error as Error)?.stack ?? error)}`,
    );
    return 1;
  } finally {
    await cleanup();
  }
}

/**
 * One instrumented pass per variant (runner and baseline, at concurrency 1 and at the default), each
 * followed by a reset, splitting the time per database into steps.
 */
async function breakdown(
  tp: Tenantplane,
  fleet: FleetDatabase[],
  sql: string,
  defaultConcurrency: number,
  quietWait: number,
  prefix: string,
  contendedRetries: number,
): Promise<BreakdownPass[]> {
  const names = new Map(fleet.map((database) => [database.id, database.name]));
  const passes: BreakdownPass[] = [];
  const plan: Array<{ variant: 'runner' | 'baseline'; concurrency: number }> = [
    { variant: 'runner', concurrency: 1 },
    { variant: 'baseline', concurrency: 1 },
    { variant: 'runner', concurrency: defaultConcurrency },
    { variant: 'baseline', concurrency: defaultConcurrency },
  ];
  for (let index = 0, attempt = 0; index < plan.length; ) {
    const { variant, concurrency } = plan[index]!;
    if (quietWait > 0) await waitForQuiet(QUIET_CORES, quietWait);
    await checkpoint();
    const probe = new Probe(names);
    probe.install(variant === 'runner' ? tp : undefined);
    const sample = cpuSample(prefix);
    let pass: BreakdownPass;
    try {
      if (variant === 'runner') {
        const timing = await timeRunner(tp, fleet, concurrency);
        const perTarget = timing.events.perTargetMs;
        const wall = perTarget.reduce((sum, value) => sum + value, 0) / perTarget.length;
        pass = {
          variant: `runner c=${concurrency}`,
          concurrency,
          wallMs: timing.wallMs,
          loadMs: timing.loadMs,
          setupMs: timing.events.firstStartMs,
          finishMs: timing.events.lastDoneMs,
          perDatabaseWallMs: wall,
          steps: probe.perDatabase(),
          unaccountedMs: wall - probe.meanMeasuredMs(),
          loopDelay: probe.loopDelay(),
          cpu: cpuSince(sample),
        };
      } else {
        const result = await runBaseline({ urls: fleet.map((database) => database.url), sql, concurrency });
        const wall =
          result.perDatabaseMs.reduce((sum, value) => sum + value, 0) / result.perDatabaseMs.length;
        pass = {
          variant: `baseline c=${concurrency}`,
          concurrency,
          wallMs: result.durationMs,
          perDatabaseWallMs: wall,
          steps: probe.perDatabase(),
          unaccountedMs: wall - probe.meanMeasuredMs(),
          loopDelay: probe.loopDelay(),
          cpu: cpuSince(sample),
        };
      }
    } finally {
      probe.uninstall();
    }
    await resetAfter(variant === 'runner' ? 'runner-default' : 'baseline', fleet, defaultConcurrency);
    // As in the rounds, a pass that shared the CPU with other work is measured again.
    if (isContended(pass.cpu) && attempt < contendedRetries) {
      attempt += 1;
      log(
        `  ${pass.variant}: contended (others ${fixed(pass.cpu.otherCores ?? 0, 2)} cores), measuring again`,
      );
      continue;
    }
    passes.push(pass);
    index += 1;
    attempt = 0;
  }

  const width = 40;
  const column = (value: string) => value.padStart(16);
  log(
    `  mean ms per database${' '.repeat(width - 21)}${passes.map((pass) => column(pass.variant)).join('')}`,
  );
  const row = (label: string, value: (pass: BreakdownPass) => string) =>
    log(`  ${label.padEnd(width)}${passes.map((pass) => column(value(pass))).join('')}`);
  for (const step of STEP_ORDER) {
    if (!passes.some((pass) => pass.steps[step])) continue;
    row(step, (pass) => {
      const tally = pass.steps[step];
      if (!tally) return '-';
      const calls = tally.callsPerDatabase === 1 ? '' : ` (x${fixed(tally.callsPerDatabase, 1)})`;
      return `${fixed(tally.meanMs, 2)}${calls}`;
    });
  }
  row('unaccounted (JS, umzug, knex, fs)', (pass) => fixed(pass.unaccountedMs, 2));
  row('= per database, start to end', (pass) => fixed(pass.perDatabaseWallMs, 2));
  row('run setup before 1st db (ms)', (pass) => (pass.setupMs === undefined ? '-' : fixed(pass.setupMs, 1)));
  row('run finish after last db (ms)', (pass) =>
    pass.finishMs === undefined ? '-' : fixed(pass.finishMs, 1),
  );
  row('loading migrations (ms)', (pass) => (pass.loadMs === undefined ? '-' : fixed(pass.loadMs, 1)));
  row('fleet wall time (ms)', (pass) => fixed(pass.wallMs, 0));
  row(
    'event-loop delay mean/p99 (ms)',
    (pass) => `${fixed(pass.loopDelay.meanMs, 1)}/${fixed(pass.loopDelay.p99Ms, 1)}`,
  );
  row('cores: self / machine / others', (pass) =>
    [pass.cpu.selfCores, pass.cpu.machineCores, pass.cpu.otherCores]
      .map((value) => (value === undefined ? '?' : fixed(value, 2)))
      .join('/'),
  );
  return passes;
}

async function profilePasses(
  tp: Tenantplane,
  fleet: FleetDatabase[],
  sql: string,
  concurrency: number,
  quietWait: number,
  output: { dir: string; stamp: string },
): Promise<Record<string, ProfileSummary & { file: string; cpuMsPerDatabase: number }>> {
  const summaries: Record<string, ProfileSummary & { file: string; cpuMsPerDatabase: number }> = {};
  for (const variant of ['runner', 'baseline'] as const) {
    if (quietWait > 0) await waitForQuiet(QUIET_CORES, quietWait);
    await checkpoint();
    const { profile } = await profiled(async () => {
      if (variant === 'runner') await timeRunner(tp, fleet, concurrency);
      else await runBaseline({ urls: fleet.map((database) => database.url), sql, concurrency });
    });
    await resetAfter(variant === 'runner' ? 'runner-default' : 'baseline', fleet, concurrency);
    const file = path.join(output.dir, `migrate-${output.stamp}-${variant}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    const summary = summarizeProfile(profile, PACKAGE_ROOT);
    summaries[variant] = {
      ...summary,
      file: path.relative(PACKAGE_ROOT, file),
      cpuMsPerDatabase: summary.busyMs / fleet.length,
    };
  }
  const runner = summaries.runner!;
  const baseline = summaries.baseline!;
  log(
    `  sampled CPU per database: runner ${fixed(runner.cpuMsPerDatabase, 2)} ms, baseline ${fixed(baseline.cpuMsPerDatabase, 2)} ms`,
  );
  log('  runner, by owner (ms per database):');
  for (const { owner, ms: spent } of runner.byOwner.slice(0, 10)) {
    log(`    ${fixed(spent / fleet.length, 2).padStart(6)}  ${owner}`);
  }
  log(`  profiles: ${runner.file}, ${baseline.file} (open in Chrome DevTools or speedscope)`);
  return summaries;
}

const options = parseOptions(process.argv.slice(2));
if (options) {
  process.exitCode = await main(options);
}
