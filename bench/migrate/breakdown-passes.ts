/**
 * bench:migrate's breakdown: one instrumented pass per variant (runner and baseline, at concurrency 1 and
 * at the default), each followed by a reset, splitting the time per database into steps; printed as a
 * table of means per database.
 */

import { log } from '../lib/log.js';
import { mean } from '../lib/stats.js';
import { fixed } from '../lib/tables.js';
import { type BreakdownPass, Probe, STEP_ORDER } from './breakdown.js';
import { checkpoint } from './fleet.js';
import { cpuSample, cpuSince, waitForQuiet } from './machine.js';
import {
  baselineOver,
  isContended,
  type MigrateFleet,
  QUIET_CORES,
  resetAfter,
  timeRunner,
} from './variants.js';

type PassPlan = { variant: 'runner' | 'baseline'; concurrency: number };

/** One instrumented pass, the fleet reset after it. */
async function pass(fleet: MigrateFleet, { variant, concurrency }: PassPlan): Promise<BreakdownPass> {
  const names = new Map(fleet.fleet.map((database) => [database.id, database.name]));
  await checkpoint();
  const probe = new Probe(names);
  probe.install(variant === 'runner' ? fleet.tp : undefined);
  const sample = cpuSample(fleet.prefix);
  let result: BreakdownPass;
  try {
    if (variant === 'runner') {
      const timing = await timeRunner(fleet.tp, fleet.fleet, concurrency);
      const wall = mean(timing.events.perTargetMs);
      result = {
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
      const baseline = await baselineOver(fleet, concurrency);
      const wall = mean(baseline.perDatabaseMs);
      result = {
        variant: `baseline c=${concurrency}`,
        concurrency,
        wallMs: baseline.durationMs,
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
  await resetAfter(
    variant === 'runner' ? 'runner-default' : 'baseline',
    fleet.fleet,
    fleet.defaultConcurrency,
  );
  return result;
}

/** The passes' mean milliseconds per database, step by step, a column per pass. */
function printBreakdown(passes: BreakdownPass[]): void {
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
}

/** The four passes, a contended one measured again (at most `contendedRetries` times); prints the table. */
export async function breakdown(
  fleet: MigrateFleet,
  quietWait: number,
  contendedRetries: number,
): Promise<BreakdownPass[]> {
  const passes: BreakdownPass[] = [];
  const plan: PassPlan[] = [
    { variant: 'runner', concurrency: 1 },
    { variant: 'baseline', concurrency: 1 },
    { variant: 'runner', concurrency: fleet.defaultConcurrency },
    { variant: 'baseline', concurrency: fleet.defaultConcurrency },
  ];
  for (let index = 0, attempt = 0; index < plan.length; ) {
    if (quietWait > 0) await waitForQuiet(QUIET_CORES, quietWait);
    const measured = await pass(fleet, plan[index]!);
    // As in the rounds, a pass that shared the CPU with other work is measured again.
    if (isContended(measured.cpu) && attempt < contendedRetries) {
      attempt += 1;
      log(
        `  ${measured.variant}: contended (others ${fixed(measured.cpu.otherCores ?? 0, 2)} cores), measuring again`,
      );
      continue;
    }
    passes.push(measured);
    index += 1;
    attempt = 0;
  }
  printBreakdown(passes);
  return passes;
}
