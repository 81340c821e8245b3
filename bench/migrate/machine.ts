import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineCpuSeconds, procStat } from '../lib/proc.js';

/** Busy CPU seconds of the whole machine so far, from /proc/stat (Linux); undefined elsewhere. */
function machineBusySeconds(): number | undefined {
  return machineCpuSeconds()?.busy;
}

/**
 * Whether a process competes with the measured run: anything but this process and PostgreSQL, plus
 * PostgreSQL backends serving other databases than the bench's own (`ownPrefix`), such as another bench's
 * traffic. PostgreSQL's background processes (checkpointer, WAL writer, …) count as the run's own.
 */
function isOther(pid: number, name: string, ownPrefix: string | undefined): boolean {
  if (name !== 'postgres') return true;
  let title: string;
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return false;
  }
  // A backend's title: "postgres: 15/main: <user> <database> <host>(<port>) <state>".
  const parts = title.split(': ');
  const words = (parts[2] ?? '').split(' ');
  const backend = words.length >= 3 && /\(\d+\)$|^\[local\]$/.test(words[2] ?? '');
  if (!backend) return false;
  return ownPrefix === undefined || !(words[1] ?? '').startsWith(`${ownPrefix}_`);
}

/** CPU seconds so far of every process that competes with the measured run (see isOther), by pid. */
function otherProcessSeconds(ownPrefix: string | undefined): Map<number, number> | undefined {
  const seconds = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const stat = procStat(pid);
    // Gone meanwhile, or not competing.
    if (!stat || !isOther(pid, stat.name, ownPrefix)) continue;
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    seconds.set(pid, (Number(stat.fields[11]) + Number(stat.fields[12])) / 100);
  }
  return seconds;
}

export interface CpuSample {
  at: number;
  ownPrefix: string | undefined;
  machine: number | undefined;
  others: Map<number, number> | undefined;
  self: NodeJS.CpuUsage;
}

/** `ownPrefix`: the bench's database prefix, so PostgreSQL backends on its own databases are not "others". */
export function cpuSample(ownPrefix?: string): CpuSample {
  return {
    at: performance.now(),
    machine: machineBusySeconds(),
    ownPrefix,
    others: otherProcessSeconds(ownPrefix),
    self: process.cpuUsage(),
  };
}

export interface CpuUse {
  /** Cores the whole machine kept busy on average (PostgreSQL, this process, anything else). */
  machineCores: number | undefined;
  /** Cores this process (the runner or the baseline, and the bench around it) used on average. */
  selfCores: number;
  /**
   * Cores used by competing processes (alive at both ends): other programs, and PostgreSQL backends on
   * other databases than the bench's. Above ~0.2 the run's wall time is suspect.
   */
  otherCores: number | undefined;
}

export function cpuSince(start: CpuSample): CpuUse {
  const end = cpuSample(start.ownPrefix);
  const seconds = (end.at - start.at) / 1000;
  const self = process.cpuUsage(start.self);
  let others: number | undefined;
  if (start.others && end.others) {
    others = 0;
    for (const [pid, used] of end.others) {
      const before = start.others.get(pid);
      if (before !== undefined) others += used - before;
    }
  }
  return {
    machineCores:
      end.machine === undefined || start.machine === undefined
        ? undefined
        : (end.machine - start.machine) / seconds,
    selfCores: (self.user + self.system) / 1e6 / seconds,
    otherCores: others === undefined ? undefined : others / seconds,
  };
}

/**
 * Waits until the machine has been nearly idle (below `threshold` busy cores) for half a second, at most
 * `maxSeconds`; returns the seconds waited. Other work on the box (another bench) skews wall times.
 */
export async function waitForQuiet(threshold: number, maxSeconds: number): Promise<number> {
  const started = performance.now();
  let quietWindows = 0;
  for (;;) {
    const before = machineBusySeconds();
    const at = performance.now();
    await sleep(250);
    const after = machineBusySeconds();
    if (before === undefined || after === undefined) return 0;
    const cores = (after - before) / ((performance.now() - at) / 1000);
    quietWindows = cores < threshold ? quietWindows + 1 : 0;
    const waited = (performance.now() - started) / 1000;
    if (quietWindows >= 2 || waited >= maxSeconds) return waited;
  }
}

export function machineDescription(): Record<string, unknown> {
  return {
    node: process.version,
    cpus: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model,
    loadAverage: os.loadavg(),
  };
}

/**
 * A digest of the code under test (src/migrations and the catalog), so a result can be matched with the
 * version of the runner it measured while src/ moves on.
 */
export function sourceDigest(root: string): { sha256: string; files: string[] } {
  const files = [
    ...readdirSync(path.join(root, 'src/migrations'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `src/migrations/${name}`),
    'src/catalog/catalog.ts',
  ].sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(root, file)));
  return { sha256: hash.digest('hex').slice(0, 16), files };
}
