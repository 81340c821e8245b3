/** What Linux's /proc says about CPU use, and waiting for child processes to end. */

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

/** A process's name and the fields of /proc/<pid>/stat after it (the name may hold spaces); undefined once gone. */
export function procStat(pid: number): { name: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    return { name: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, in seconds; NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  const fields = procStat(pid)?.fields;
  return fields ? (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND : Number.NaN;
}

/** cutime + cstime: CPU of the process's children that have ended and been reaped, in seconds. */
export function endedChildrenCpuSeconds(pid: number): number {
  const fields = procStat(pid)?.fields;
  return fields ? (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND : Number.NaN;
}

/** CPU seconds of the whole machine so far, from /proc/stat: busy (without steal) and stolen; undefined elsewhere. */
export function machineCpuSeconds(): { busy: number; steal: number } | undefined {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0);
    return { busy: busy / CLOCK_TICKS_PER_SECOND, steal: (steal ?? 0) / CLOCK_TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Resolves true once the child has exited, false when `timeoutMs` passed first. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
