import type { JobSnapshot, JobState } from './job-queue.js';

/** A job as the job list shows it: its snapshot, when it was created and finished, and its tenant. */
export interface ListedJob extends JobSnapshot {
  /** Milliseconds since the epoch, when it was enqueued. */
  createdAt: number;
  /** Milliseconds since the epoch, when it completed or failed for good; null before. */
  finishedAt: number | null;
  /** The tenant the job works on, when its data names one (`tenantId`). */
  tenantId: string | null;
}

/** Where a page of the newest-first list ended: the last job's creation time, queue and id. */
export interface JobPosition {
  createdAt: number;
  queue: string;
  id: string;
}

export interface JobListOptions {
  /** Only this queue's jobs; every queue when absent. */
  queue?: string;
  /** Only jobs in this state; every state when absent. */
  state?: JobState;
  limit: number;
  /** Only jobs after this position (older, in list order). */
  after?: JobPosition;
}

/** The list's order: newest first, then by queue and id, so that jobs created in the same ms keep one order. */
export function compareNewestFirst(a: JobPosition, b: JobPosition): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  if (a.queue !== b.queue) return a.queue < b.queue ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The page of `jobs` (any order) that `options` asks for. Positions never change once a job exists and new
 * jobs are newer than every page already read, so paging on visits each job once while jobs keep coming.
 */
export function pageOf<T extends JobPosition & { state: JobState }>(
  jobs: Iterable<T>,
  options: JobListOptions,
): T[] {
  const { after } = options;
  const chosen = [...jobs].filter(
    (job) =>
      (options.queue === undefined || job.queue === options.queue) &&
      (options.state === undefined || job.state === options.state) &&
      (after === undefined || compareNewestFirst(after, job) < 0),
  );
  return chosen.sort(compareNewestFirst).slice(0, options.limit);
}

/** The tenant a job's data names, if any. */
export function tenantOfJobData(data: unknown): string | null {
  const tenantId = (data as { tenantId?: unknown } | null | undefined)?.tenantId;
  return typeof tenantId === 'string' ? tenantId : null;
}
