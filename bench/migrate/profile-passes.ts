/** bench:migrate's `--profile`: one CPU-profiled pass of the runner and of the baseline, and where it went. */

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { log } from '../lib/log.js';
import { fixed } from '../lib/tables.js';
import { checkpoint } from './fleet.js';
import { waitForQuiet } from './machine.js';
import { type ProfileSummary, profiled, summarizeProfile } from './profile.js';
import { baselineOver, type MigrateFleet, QUIET_CORES, resetAfter, timeRunner } from './variants.js';

export type ProfiledPass = ProfileSummary & { file: string; cpuMsPerDatabase: number };

/** `filePrefix`: bench/results/migrate-<time>; the profiles are `${filePrefix}-<variant>.cpuprofile`. */
export async function profilePasses(
  fleet: MigrateFleet,
  concurrency: number,
  quietWait: number,
  filePrefix: string,
): Promise<Record<string, ProfiledPass>> {
  const count = fleet.fleet.length;
  const summaries: Record<string, ProfiledPass> = {};
  for (const variant of ['runner', 'baseline'] as const) {
    if (quietWait > 0) await waitForQuiet(QUIET_CORES, quietWait);
    await checkpoint();
    const { profile } = await profiled(async () => {
      if (variant === 'runner') await timeRunner(fleet.tp, fleet.fleet, concurrency);
      else await baselineOver(fleet, concurrency);
    });
    await resetAfter(variant === 'runner' ? 'runner-default' : 'baseline', fleet.fleet, concurrency);
    const file = `${filePrefix}-${variant}.cpuprofile`;
    await writeFile(file, JSON.stringify(profile));
    const summary = summarizeProfile(profile, PACKAGE_ROOT);
    summaries[variant] = {
      ...summary,
      file: path.relative(PACKAGE_ROOT, file),
      cpuMsPerDatabase: summary.busyMs / count,
    };
  }
  const runner = summaries.runner!;
  const baseline = summaries.baseline!;
  log(
    `  sampled CPU per database: runner ${fixed(runner.cpuMsPerDatabase, 2)} ms, baseline ${fixed(baseline.cpuMsPerDatabase, 2)} ms`,
  );
  log('  runner, by owner (ms per database):');
  for (const { owner, ms: spent } of runner.byOwner.slice(0, 10)) {
    log(`    ${fixed(spent / count, 2).padStart(6)}  ${owner}`);
  }
  log(`  profiles: ${runner.file}, ${baseline.file} (open in Chrome DevTools or speedscope)`);
  return summaries;
}
