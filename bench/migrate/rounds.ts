/**
 * bench:migrate's timed rounds: in each, the three variants one after another, a run that shared the CPU
 * with other work measured again.
 */

import { BenchFailure } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { mean, percentile } from '../lib/stats.js';
import { fixed } from '../lib/tables.js';
import { checkpoint } from './fleet.js';
import { type CpuUse, cpuSample, cpuSince, waitForQuiet } from './machine.js';
import type { BenchOptions } from './options.js';
import {
  baselineOver,
  isContended,
  LABELS,
  type MigrateFleet,
  QUIET_CORES,
  resetAfter,
  timeRunner,
  VARIANTS,
  type VariantName,
} from './variants.js';

export interface TimedRun {
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

export interface Rounds {
  runs: TimedRun[];
  /** Runs that shared the CPU with other work and were measured again. */
  discarded: TimedRun[];
}

function distribution(values: number[]): TimedRun['perDatabaseMs'] {
  return {
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    max: Math.max(...values),
    mean: mean(values),
  };
}

export const ms = (value: number) => `${value.toFixed(0)} ms`;

/** Each variant's concurrency: 1 for a, the runner's default for b and c. */
export function concurrencyOf(fleet: MigrateFleet): Record<VariantName, number> {
  return { 'runner-c1': 1, 'runner-default': fleet.defaultConcurrency, baseline: fleet.defaultConcurrency };
}

/** One timed run of a variant, after a quiet machine and a checkpoint; the fleet reset after it. */
async function timeVariant(
  fleet: MigrateFleet,
  variant: VariantName,
  round: number,
  quietWait: number,
): Promise<TimedRun> {
  const concurrency = concurrencyOf(fleet);
  const waitedForQuietS = quietWait > 0 ? await waitForQuiet(QUIET_CORES, quietWait) : 0;
  await checkpoint();
  const sample = cpuSample(fleet.prefix);
  let run: TimedRun;
  if (variant === 'baseline') {
    const result = await baselineOver(fleet, concurrency.baseline);
    run = {
      round,
      variant,
      concurrency: concurrency.baseline,
      wallMs: result.durationMs,
      perDatabaseMs: distribution(result.perDatabaseMs),
      cpu: cpuSince(sample),
      waitedForQuietS,
    };
  } else {
    const timing = await timeRunner(fleet.tp, fleet.fleet, variant === 'runner-c1' ? 1 : undefined);
    if (timing.result.concurrency !== concurrency[variant]) {
      throw new BenchFailure(
        `${variant} ran at concurrency ${timing.result.concurrency}, wanted ${concurrency[variant]}`,
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
  await resetAfter(variant, fleet.fleet, fleet.defaultConcurrency);
  return run;
}

function describe(run: TimedRun): string {
  return (
    `  ${LABELS[run.variant].padEnd(32)} c=${String(run.concurrency).padEnd(3)} ${ms(run.wallMs).padStart(9)}` +
    `  per db p50 ${fixed(run.perDatabaseMs.p50, 1)} ms p95 ${fixed(run.perDatabaseMs.p95, 1)} ms` +
    `  cores: self ${fixed(run.cpu.selfCores, 2)} machine ${run.cpu.machineCores === undefined ? '?' : fixed(run.cpu.machineCores, 2)}` +
    ` others ${run.cpu.otherCores === undefined ? '?' : fixed(run.cpu.otherCores, 2)}` +
    (run.waitedForQuietS > 1.5 ? `  (waited ${fixed(run.waitedForQuietS, 0)} s for a quiet box)` : '')
  );
}

/** `--rounds` rounds of the three variants; prints each run as it ends. */
export async function runRounds(fleet: MigrateFleet, options: BenchOptions): Promise<Rounds> {
  const rounds: Rounds = { runs: [], discarded: [] };
  for (let round = 1; round <= options.rounds; round++) {
    log(`round ${round}/${options.rounds}`);
    for (const variant of VARIANTS) {
      // A run that shared the CPU with other work is measured again (at most --contended-retries times).
      for (let attempt = 0; ; attempt++) {
        const run = await timeVariant(fleet, variant, round, options.quietWait);
        if (isContended(run.cpu) && attempt < options.contendedRetries) {
          rounds.discarded.push(run);
          log(`${describe(run)}  contended: discarded, measuring again`);
          continue;
        }
        rounds.runs.push(run);
        log(`${describe(run)}${isContended(run.cpu) ? '  (contended)' : ''}`);
        break;
      }
    }
  }
  return rounds;
}
