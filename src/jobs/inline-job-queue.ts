import { setTimeout as sleep } from 'node:timers/promises';
import { carryTraceContext } from '../tracing/job-spans.js';
import { type JobListOptions, type ListedJob, pageOf, tenantOfJobData } from './job-listing.js';
import {
  assertJobId,
  type EnqueueOptions,
  type JobHandler,
  type JobQueue,
  type JobSnapshot,
  type JobState,
  type RepeatOptions,
} from './job-queue.js';

interface InlineJob {
  snapshot: JobSnapshot;
  done: Promise<unknown>;
  createdAt: number;
  finishedAt: number | null;
  tenantId: string | null;
}

/**
 * Runs jobs in this process, with the same ids, retries and progress as the BullMQ queue: what runs without
 * REDIS_URL. State lives in memory, so it is lost with the process.
 */
export class InlineJobQueue implements JobQueue {
  readonly distributed = false;
  readonly #jobs = new Map<string, InlineJob>();
  readonly #handlers = new Map<string, JobHandler>();
  readonly #timers = new Map<string, { timer: NodeJS.Timeout; running: Promise<unknown> | undefined }>();

  /** The handlers may also come later, by `register`, once the services they use exist. */
  constructor(handlers: Record<string, JobHandler> = {}) {
    this.register(handlers);
  }

  /** Runs the jobs of these queues with these handlers from now on. */
  register(handlers: Record<string, JobHandler>): void {
    for (const [queue, handler] of Object.entries(handlers)) this.#handlers.set(queue, handler);
  }

  async enqueue(queue: string, data: unknown, options: EnqueueOptions): Promise<string> {
    const id = assertJobId(options.jobId);
    const key = `${queue}/${id}`;
    if (this.#jobs.has(key)) return id;
    const handler = this.#handlers.get(queue);
    if (!handler) throw new TypeError(`no handler for queue ${queue}`);
    const snapshot: JobSnapshot = {
      id,
      queue,
      state: 'active',
      progress: 0,
      result: null,
      error: null,
      attempts: 0,
    };
    const attempts = options.attempts ?? 3;
    const job: InlineJob = {
      snapshot,
      done: Promise.resolve(),
      createdAt: Date.now(),
      finishedAt: null,
      tenantId: tenantOfJobData(data),
    };
    const carried = carryTraceContext(data);
    const run = async () => {
      for (let attempt = 1; ; attempt++) {
        snapshot.attempts = attempt;
        snapshot.state = 'active';
        try {
          snapshot.result = await handler(carried as never, {
            attempt,
            progress: async (value) => {
              snapshot.progress = value;
            },
          });
          snapshot.state = 'completed';
          snapshot.error = null;
          job.finishedAt = Date.now();
          return snapshot.result;
        } catch (error) {
          snapshot.error = (error as Error).message;
          if (attempt >= attempts) {
            snapshot.state = 'failed';
            job.finishedAt = Date.now();
            throw error;
          }
          snapshot.state = 'delayed';
          await sleep((options.backoffMs ?? 1000) * 2 ** (attempt - 1));
        }
      }
    };
    job.done = run();
    job.done.catch(() => {});
    this.#jobs.set(key, job);
    return id;
  }

  async get(queue: string, jobId: string): Promise<JobSnapshot | undefined> {
    const job = this.#jobs.get(`${queue}/${jobId}`);
    return job ? { ...job.snapshot } : undefined;
  }

  get queueNames(): readonly string[] {
    return [...this.#handlers.keys()];
  }

  async list(options: JobListOptions): Promise<ListedJob[]> {
    const listed = [...this.#jobs.values()].map((job) => ({
      ...job.snapshot,
      createdAt: job.createdAt,
      finishedAt: job.finishedAt,
      tenantId: job.tenantId,
    }));
    return pageOf(listed, options);
  }

  async find(jobId: string): Promise<JobSnapshot | undefined> {
    for (const job of this.#jobs.values()) if (job.snapshot.id === jobId) return { ...job.snapshot };
    return undefined;
  }

  async wait(queue: string, jobId: string): Promise<unknown> {
    const job = this.#jobs.get(`${queue}/${jobId}`);
    if (!job) throw new TypeError(`no job ${jobId} in ${queue}`);
    return job.done;
  }

  async stateCounts(): Promise<Array<{ queue: string; state: JobState; count: number }>> {
    const counts = new Map<string, { queue: string; state: JobState; count: number }>();
    for (const { snapshot } of this.#jobs.values()) {
      const key = `${snapshot.queue}/${snapshot.state}`;
      const entry = counts.get(key) ?? { queue: snapshot.queue, state: snapshot.state, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
    return [...counts.values()];
  }

  async repeat(queue: string, options: RepeatOptions): Promise<void> {
    const handler = this.#handlers.get(queue);
    if (!handler) throw new TypeError(`no handler for queue ${queue}`);
    clearInterval(this.#timers.get(assertJobId(options.id))?.timer);
    const entry: { timer: NodeJS.Timeout; running: Promise<unknown> | undefined } = {
      running: undefined,
      timer: setInterval(() => {
        if (entry.running) return;
        // The handler reports its own failures; the next beat runs it again.
        entry.running = handler(options.data as never, { attempt: 1, progress: async () => {} })
          .catch(() => {})
          .finally(() => {
            entry.running = undefined;
          });
      }, options.everyMs),
    };
    entry.timer.unref();
    this.#timers.set(options.id, entry);
  }

  async reachable(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    for (const { timer } of this.#timers.values()) clearInterval(timer);
    await Promise.allSettled([...this.#timers.values()].map((entry) => entry.running));
    await Promise.allSettled([...this.#jobs.values()].map((job) => job.done));
  }
}
