import type { JobQueue } from '../jobs/job-queue.js';
import { TENANT_MOVE_QUEUE } from './move-jobs.js';
import type { MoveProgress, MoveResult } from './tenant-mover.js';

const POLL_MS = 200;

/** One line per step of a move, as `tenants set-tier` shows it. */
export function describeMoveProgress(progress: MoveProgress): string {
  switch (progress.phase) {
    case 'preparing':
      return 'preparing the new placement';
    case 'copying':
      return `copying ${progress.table} (${progress.rows ?? 0} rows so far)`;
    case 'catching_up':
      return `copied ${progress.rows ?? 0} rows; catching up with changes made meanwhile`;
    case 'paused':
      return 'writes paused (503 with Retry-After): re-syncing the last changes and switching';
    case 'switched':
      return 'switched: the tenant serves from its new placement';
    case 'cleaning':
      return 'removing the old placement';
    case 'done':
      return 'done';
  }
}

/**
 * Waits for a move job, calling `onProgress` each time its reported step changes (the job may run in this
 * process or on a worker: progress is read back from the queue either way).
 */
export async function waitForMove(
  jobs: JobQueue,
  jobId: string,
  onProgress: (progress: MoveProgress) => void,
): Promise<MoveResult> {
  let last = '';
  const poll = async () => {
    const snapshot = await jobs.get(TENANT_MOVE_QUEUE, jobId).catch(() => undefined);
    const progress = snapshot?.progress;
    if (progress && typeof progress === 'object' && 'phase' in progress) {
      const key = JSON.stringify(progress);
      if (key !== last) {
        last = key;
        onProgress(progress as MoveProgress);
      }
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  try {
    const result = (await jobs.wait(TENANT_MOVE_QUEUE, jobId)) as MoveResult;
    await poll();
    return result;
  } finally {
    clearInterval(timer);
  }
}
