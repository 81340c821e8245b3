/**
 * The ways bench:migrate applies its migration to the fleet: tenantplane's fleet runner (at concurrency 1
 * or its default) and the baseline script; each run checked, and the fleet put back as it was after it.
 */

import type { FleetRunResult } from '../../src/migrations/fleet-runner.js';
import type { Tenantplane } from '../../src/tenantplane.js';
import { BenchFailure } from '../lib/cleanup.js';
import { runBaseline } from './baseline.js';
import {
  type FleetDatabase,
  MIGRATION_NAME,
  type MigrationState,
  PREVIOUS_MIGRATION,
  verifyAndReset,
} from './fleet.js';
import type { CpuUse } from './machine.js';

export const ACTOR = 'bench-migrate';
/** Busy cores below which the machine counts as quiet before a run. */
export const QUIET_CORES = 0.3;
/** Other processes' cores during a run above which the run is marked contended. */
export const CONTENDED_CORES = 0.2;
export const isContended = (cpu: CpuUse) => (cpu.otherCores ?? 0) > CONTENDED_CORES;

export type VariantName = 'runner-c1' | 'runner-default' | 'baseline';
export const VARIANTS: VariantName[] = ['runner-c1', 'runner-default', 'baseline'];
export const LABELS: Record<VariantName, string> = {
  'runner-c1': 'a  runner, concurrency 1',
  'runner-default': 'b  runner, default concurrency',
  baseline: 'c  baseline script',
};

/** What every part of a bench:migrate run works on. */
export interface MigrateFleet {
  tp: Tenantplane;
  fleet: FleetDatabase[];
  /** The migration's SQL, as the baseline runs it. */
  sql: string;
  /** The fleet runner's default concurrency, which the baseline runs at too. */
  defaultConcurrency: number;
  /** The bench's database prefix: backends on its databases are not other processes' work. */
  prefix: string;
}

export function checkRunnerResult(
  result: FleetRunResult,
  fleet: FleetDatabase[],
  direction: 'up' | 'down',
): void {
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

export interface RunnerTiming {
  wallMs: number;
  loadMs: number;
  result: FleetRunResult;
  /** Runner only: ms from run() start to each target's start and done events, keyed by database id. */
  events: { firstStartMs: number; lastDoneMs: number; perTargetMs: number[] };
}

export async function timeRunner(
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

/** The baseline script over the whole fleet. */
export function baselineOver(fleet: MigrateFleet, concurrency: number) {
  return runBaseline({ urls: fleet.fleet.map((database) => database.url), sql: fleet.sql, concurrency });
}

const APPLIED_BY_RUNNER: MigrationState = { column: true, index: true, recorded: true };
const APPLIED_BY_BASELINE: MigrationState = { column: true, index: true, recorded: false };
export const NOT_APPLIED: MigrationState = { column: false, index: false, recorded: false };

/** Checks that the variant applied the migration everywhere, and takes it back off. */
export async function resetAfter(
  variant: VariantName,
  fleet: FleetDatabase[],
  concurrency: number,
): Promise<void> {
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

/** The runner down to the previous migration, checked: the fleet as before the warm-up's runner up. */
export async function runnerDown(tp: Tenantplane, fleet: FleetDatabase[]): Promise<void> {
  const down = await (await tp.fleetRunner()).run({
    direction: 'down',
    to: PREVIOUS_MIGRATION,
    actor: ACTOR,
  });
  checkRunnerResult(down, fleet, 'down');
}
