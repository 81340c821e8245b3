import type { JobListOptions, ListedJob } from './job-listing.js';

/** The project's view of background jobs; BullMQ (with REDIS_URL) or inline execution sit behind it. */

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'unknown';

export interface JobSnapshot {
  id: string;
  queue: string;
  state: JobState;
  progress: unknown;
  result: unknown;
  error: string | null;
  attempts: number;
}

export interface JobContext {
  /** Reports progress (a percentage or any JSON object) where `GET /admin/v1/jobs/:id` can see it. */
  progress(value: number | Record<string, unknown>): Promise<void>;
  /** 1 for the first attempt. */
  attempt: number;
}

export type JobHandler = (data: never, context: JobContext) => Promise<unknown>;

export interface EnqueueOptions {
  /** Deterministic id: enqueuing the same id twice yields one job. No ':' allowed. */
  jobId: string;
  /** Total attempts, retries included. Default 3. */
  attempts?: number;
  /** First retry delay in ms, doubled per retry. Default 1000. */
  backoffMs?: number;
}

/** A job that recurs: `repeat` runs its queue's handler with `data` every `everyMs`. */
export interface RepeatOptions {
  /** Names the recurrence: repeating the same id again replaces it instead of adding a second one. */
  id: string;
  everyMs: number;
  data?: unknown;
}

export interface JobQueue {
  /** True when jobs run on `tenantctl worker` processes rather than in this process. */
  readonly distributed: boolean;
  enqueue(queue: string, data: unknown, options: EnqueueOptions): Promise<string>;
  get(queue: string, jobId: string): Promise<JobSnapshot | undefined>;
  /** Finds a job by id in any queue this process knows. */
  find(jobId: string): Promise<JobSnapshot | undefined>;
  /** The queues this process may enqueue to, list or look up. */
  readonly queueNames: readonly string[];
  /** A page of the jobs the queues hold, newest first (with BullMQ: every process's jobs). */
  list(options: JobListOptions): Promise<ListedJob[]>;
  /** Resolves with the job's result once it completes; rejects with its error once it has failed for good. */
  wait(queue: string, jobId: string): Promise<unknown>;
  /** Jobs per queue and state, for metrics (with BullMQ: every process's jobs). */
  stateCounts(): Promise<Array<{ queue: string; state: JobState; count: number }>>;
  /**
   * Runs the queue's handler every `everyMs` until the queue is closed. With BullMQ a job scheduler in
   * Redis: one per id whichever processes set it, each job taken by one worker. Inline a timer in this
   * process, which skips a beat while the previous run is still going.
   */
  repeat(queue: string, options: RepeatOptions): Promise<void>;
  /** Whether the queue's backing store answers (always true inline). */
  reachable(): Promise<boolean>;
  close(): Promise<void>;
}

export function assertJobId(jobId: string): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(jobId) || /^\d+$/.test(jobId)) {
    throw new TypeError(
      `job id ${JSON.stringify(jobId)} must be 1-200 characters of A-Z a-z 0-9 . _ - and not all digits`,
    );
  }
  return jobId;
}
