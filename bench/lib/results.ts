/** Where a bench's record goes: bench/results/<name>-<time>.json, with its logs and profiles beside it. */

import { mkdirSync } from 'node:fs';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

export const RESULTS_DIR = path.join(PACKAGE_ROOT, 'bench/results');

/** A time as a file name takes it: the ISO form with `:` and `.` as `-`. */
export function fileStamp(time: Date = new Date()): string {
  return time.toISOString().replace(/[:.]/g, '-');
}

export interface ResultFiles {
  /** The time in the names. */
  stamp: string;
  /** `bench/results/<name>-<stamp>`: the JSON is `${prefix}.json`, logs and profiles start with it too. */
  prefix: string;
  json: string;
}

/** The names of a run's results, started at `startedAt`; creates bench/results when missing. */
export function resultFiles(name: string, startedAt: Date): ResultFiles {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = fileStamp(startedAt);
  const prefix = path.join(RESULTS_DIR, `${name}-${stamp}`);
  return { stamp, prefix, json: `${prefix}.json` };
}

/** Indented JSON and a final newline. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Removes the run's log files that stayed empty: only services that said something keep theirs. */
export async function removeEmptyLogs(prefix: string): Promise<void> {
  const directory = path.dirname(prefix);
  for (const name of await readdir(directory)) {
    const file = path.join(directory, name);
    if (file.startsWith(prefix) && name.endsWith('.log') && (await stat(file)).size === 0) await rm(file);
  }
}
