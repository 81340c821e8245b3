/** bench:backup-fleet's `tenantctl worker` processes: BullMQ workers on the bench's own Redis prefix. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { BACKUP_QUEUE } from '../../src/backup/backup-jobs.js';
import { BACKUP_SCHEDULE_QUEUE } from '../../src/backup/schedules/schedule-tick.js';
import type { BullJobQueue } from '../../src/jobs/bullmq-job-queue.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { waitForExit } from '../lib/proc.js';

export interface Workers {
  children: ChildProcess[];
  stop(): Promise<void>;
}

/** Starts `count` workers (each `--concurrency` jobs per queue) and waits until BullMQ lists them all. */
export async function startWorkers(
  jobs: BullJobQueue,
  env: NodeJS.ProcessEnv,
  count: number,
  concurrency: number,
  logPrefix: string,
): Promise<Workers> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i += 1) {
    const log = createWriteStream(`${logPrefix}-worker-${i}.log`);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(PACKAGE_ROOT, 'src/cli/main.ts'),
        'worker',
        '--concurrency',
        String(concurrency),
      ],
      { env: { LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.pipe(log);
    children.push(child);
  }
  for (let i = 0; i < 600; i += 1) {
    const ready = Math.min(
      await jobs.workerCount(BACKUP_QUEUE),
      await jobs.workerCount(BACKUP_SCHEDULE_QUEUE),
    );
    if (ready >= count) break;
    if (children.some((child) => child.exitCode !== null)) throw new Error('a worker exited while starting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    children,
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      for (const child of children) if (!(await waitForExit(child, 15000))) child.kill('SIGKILL');
    },
  };
}
