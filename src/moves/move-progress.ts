import { waitWithProgress } from '../jobs/job-progress.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { TENANT_MOVE_QUEUE } from './move-jobs.js';
import type { MoveProgress, MoveResult } from './tenant-mover.js';

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

/** Waits for a move job, calling `onProgress` each time its reported step changes. */
export async function waitForMove(
  jobs: JobQueue,
  jobId: string,
  onProgress: (progress: MoveProgress) => void,
): Promise<MoveResult> {
  const result = await waitWithProgress<MoveProgress>(jobs, TENANT_MOVE_QUEUE, jobId, (progress) => {
    if ('phase' in progress) onProgress(progress);
  });
  return result as MoveResult;
}
