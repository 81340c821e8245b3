/** bench:migrate's figures over the rounds: medians, this process's CPU, the two targets, and their print. */

import { log } from '../lib/log.js';
import { median } from '../lib/stats.js';
import { fixed } from '../lib/tables.js';
import type { ConnectionCeiling } from './connection-ceiling.js';
import { ms, type Rounds } from './rounds.js';
import { CONTENDED_CORES, isContended, LABELS, VARIANTS, type VariantName } from './variants.js';

const SPEEDUP_TARGET = 1.8;
const BASELINE_RATIO_TARGET = 1.25;

export interface MigrateTarget {
  name: string;
  value: number;
  target: string;
  pass: boolean;
}

/** The median of a figure of each variant's runs. */
function perVariant(rounds: Rounds, figure: (run: Rounds['runs'][number]) => number) {
  return Object.fromEntries(
    VARIANTS.map((variant) => [
      variant,
      median(rounds.runs.filter((run) => run.variant === variant).map(figure)),
    ]),
  ) as Record<VariantName, number>;
}

/** Median wall time of each variant. */
export function medianWallMs(rounds: Rounds): Record<VariantName, number> {
  return perVariant(rounds, (run) => run.wallMs);
}

/** This process's CPU per database: the runner's (or baseline's) JavaScript, pg driver and socket work. */
export function nodeCpuMsPerDatabase(rounds: Rounds, databases: number): Record<VariantName, number> {
  return perVariant(rounds, (run) => (run.cpu.selfCores * run.wallMs) / databases);
}

/** Speed-up of b over a, and b against c. */
export function migrateTargets(medians: Record<VariantName, number>): MigrateTarget[] {
  const speedup = medians['runner-c1'] / medians['runner-default'];
  const ratio = medians['runner-default'] / medians.baseline;
  return [
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
}

export interface MigrateResults {
  rounds: Rounds;
  databases: number;
  concurrency: Record<VariantName, number>;
  medians: Record<VariantName, number>;
  nodeCpu: Record<VariantName, number>;
  targets: MigrateTarget[];
  ceiling: ConnectionCeiling;
}

/** The medians per variant, the contended runs, the targets and the machine's ceiling. */
export function printResults(results: MigrateResults, roundCount: number): void {
  const { rounds, databases, concurrency, medians, nodeCpu, ceiling } = results;
  log();
  log(`results over ${roundCount} round(s), ${databases} databases, median wall time:`);
  for (const variant of VARIANTS) {
    const all = rounds.runs.filter((run) => run.variant === variant).map((run) => ms(run.wallMs));
    log(
      `  ${LABELS[variant].padEnd(32)} c=${String(concurrency[variant]).padEnd(3)} ${ms(medians[variant]).padStart(9)}` +
        `   ${fixed(medians[variant] / databases, 1)} ms/db wall, ${fixed(nodeCpu[variant], 1)} ms/db node CPU` +
        `   (rounds: ${all.join(', ')})`,
    );
  }
  const contended = rounds.runs.filter((run) => isContended(run.cpu)).length;
  if (rounds.discarded.length > 0 || contended > 0) {
    log(
      `  note: ${rounds.discarded.length} contended run(s) discarded and measured again; ${contended} of the ${rounds.runs.length} ` +
        `kept runs shared the CPU with other processes (> ${CONTENDED_CORES} cores, "others"): noisier numbers`,
    );
  }
  log();
  log('targets:');
  for (const target of results.targets) {
    log(
      `  ${target.pass ? 'PASS' : 'FAIL'}  ${target.name}: ${fixed(target.value, 2)} (target ${target.target})`,
    );
  }
  log(
    `  the machine's ceiling: a bare connection (connect, SELECT 1, disconnect) takes ` +
      `${fixed(ceiling.msPerConnectionAtOne, 1)} ms at c=1 and ${fixed(ceiling.msPerConnectionAtConcurrency, 1)} ms ` +
      `at c=${ceiling.concurrency}: ${fixed(ceiling.speedup, 2)}x from concurrency, with one connection per database`,
  );
}
