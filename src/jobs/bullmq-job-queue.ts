import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { carryTraceContext } from '../tracing/job-spans.js';
import {
  type JobListOptions,
  type JobPosition,
  type ListedJob,
  pageOf,
  tenantOfJobData,
} from './job-listing.js';
import {
  assertJobId,
  type EnqueueOptions,
  type JobHandler,
  type JobQueue,
  type JobSnapshot,
  type JobState,
  type RepeatOptions,
} from './job-queue.js';

export interface BullJobQueueOptions {
  redisUrl: string;
  /** Key prefix in Redis; separates deployments (and test runs) sharing one Redis. Default `tenantplane`. */
  prefix?: string;
  /** Queues this process may enqueue to or look up. */
  queues: string[];
  logger: Logger;
}

/** Creation times read from Redis per round trip while listing. */
const LIST_BATCH = 500;

function connect(url: string, logger: Logger): Redis {
  // BullMQ's blocking commands need maxRetriesPerRequest null.
  const connection = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
  // Without a listener ioredis prints every failed reconnect attempt; say it once per outage instead.
  let down = false;
  connection.on('error', (error) => {
    if (!down) logger.warn({ err: error }, 'job queue: Redis unreachable, reconnecting');
    down = true;
  });
  connection.on('ready', () => {
    if (down) logger.info('job queue: Redis reachable again');
    down = false;
  });
  return connection;
}

function snapshotOf(queue: string, job: Job, state: string): JobSnapshot {
  const known: JobState[] = ['waiting', 'active', 'completed', 'failed', 'delayed'];
  return {
    id: job.id!,
    queue,
    state: known.includes(state as JobState)
      ? (state as JobState)
      : state === 'prioritized'
        ? 'waiting'
        : 'unknown',
    progress: job.progress,
    result: job.returnvalue ?? null,
    error: job.failedReason || null,
    attempts: job.attemptsMade,
  };
}

/** BullMQ's own job lists behind each of the project's states ('prioritized' jobs are waiting too). */
const BULL_TYPES: Record<
  Exclude<JobState, 'unknown'>,
  Array<'wait' | 'prioritized' | 'active' | 'completed' | 'failed' | 'delayed'>
> = {
  waiting: ['wait', 'prioritized'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
  delayed: ['delayed'],
};

/** Jobs on BullMQ: enqueued here, run by `tenantctl worker` processes on any machine. */
export class BullJobQueue implements JobQueue {
  readonly distributed = true;
  readonly #connection: Redis;
  readonly #prefix: string;
  readonly #queues = new Map<string, Queue>();
  readonly #events = new Map<string, QueueEvents>();
  /** BullMQ leaves connections it was given open; they are closed here. */
  readonly #connections: Redis[] = [];

  constructor(private readonly options: BullJobQueueOptions) {
    this.#connection = connect(options.redisUrl, options.logger);
    this.#connections.push(this.#connection);
    this.#prefix = options.prefix ?? 'tenantplane';
  }

  #queue(name: string): Queue {
    if (!this.options.queues.includes(name)) throw new TypeError(`unknown queue ${name}`);
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.#connection, prefix: this.#prefix });
      // BullMQ re-emits its connection's errors here and prints each one when nobody listens: every
      // reconnect attempt of an outage. connect()'s listener already reports the outage once.
      queue.on('error', () => {});
      this.#queues.set(name, queue);
    }
    return queue;
  }

  async #queueEvents(name: string): Promise<QueueEvents> {
    let events = this.#events.get(name);
    if (!events) {
      const connection = connect(this.options.redisUrl, this.options.logger);
      this.#connections.push(connection);
      events = new QueueEvents(name, { connection, prefix: this.#prefix });
      events.on('error', () => {}); // as the queue's, above
      this.#events.set(name, events);
      await events.waitUntilReady();
    }
    return events;
  }

  async enqueue(queue: string, data: unknown, options: EnqueueOptions): Promise<string> {
    const jobId = assertJobId(options.jobId);
    // BullMQ ignores an add whose jobId already exists: the same request twice is one job.
    await this.#queue(queue).add(queue, carryTraceContext(data), {
      jobId,
      attempts: options.attempts ?? 3,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: { age: 7 * 86400 },
      removeOnFail: { age: 30 * 86400 },
    });
    return jobId;
  }

  async get(queue: string, jobId: string): Promise<JobSnapshot | undefined> {
    // The state first, then the job's data: a job that finishes in between is then read with its result
    // (BullMQ records the result and the new state in one step), never as completed without one.
    const state = await this.#queue(queue).getJobState(jobId);
    const job = await this.#queue(queue).getJob(jobId);
    return job ? snapshotOf(queue, job, state) : undefined;
  }

  get queueNames(): readonly string[] {
    return this.options.queues;
  }

  /**
   * BullMQ keeps each state's jobs in its own list, ordered by when they entered it, not by when they were
   * created: the page is cut from the ids and creation times of every job of the chosen queues and states
   * (bounded by what the queues retain: finished jobs for 7 and 30 days), and only its own jobs are read.
   */
  async list(options: JobListOptions): Promise<ListedJob[]> {
    const queues = options.queue === undefined ? this.options.queues : [options.queue];
    const states = (options.state === undefined ? Object.keys(BULL_TYPES) : [options.state]) as Array<
      keyof typeof BULL_TYPES
    >;
    const positions = new Map<string, JobPosition & { state: JobState }>();
    for (const name of queues) {
      const queue = this.#queue(name);
      for (const state of states) {
        for (const type of BULL_TYPES[state]) {
          const ids = await queue.getRanges([type], 0, -1);
          for (let start = 0; start < ids.length; start += LIST_BATCH) {
            const batch = ids.slice(start, start + LIST_BATCH);
            const pipeline = this.#connection.pipeline();
            for (const id of batch) pipeline.hget(queue.toKey(id), 'timestamp');
            const timestamps = (await pipeline.exec()) ?? [];
            batch.forEach((id, index) => {
              const [error, timestamp] = timestamps[index] ?? [];
              // Gone since its list was read (removed once finished), or listed already under another state.
              const key = `${name}/${id}`;
              if (error || typeof timestamp !== 'string' || positions.has(key)) return;
              positions.set(key, { createdAt: Number(timestamp), queue: name, id, state });
            });
          }
        }
      }
    }
    const page = pageOf(positions.values(), options);
    const jobs = await Promise.all(page.map(({ queue, id }) => this.#queue(queue).getJob(id)));
    return page.flatMap((position, index) => {
      const job = jobs[index];
      // Removed between the two reads: left out, which leaves this one page short.
      if (!job) return [];
      const finished = position.state === 'completed' || position.state === 'failed';
      return [
        {
          ...snapshotOf(position.queue, job, position.state),
          createdAt: position.createdAt,
          finishedAt: finished ? (job.finishedOn ?? null) : null,
          tenantId: tenantOfJobData(job.data),
        },
      ];
    });
  }

  async find(jobId: string): Promise<JobSnapshot | undefined> {
    for (const queue of this.options.queues) {
      const found = await this.get(queue, jobId);
      if (found) return found;
    }
    return undefined;
  }

  async wait(queue: string, jobId: string): Promise<unknown> {
    const events = await this.#queueEvents(queue);
    const job = await this.#queue(queue).getJob(jobId);
    if (!job) throw new TypeError(`no job ${jobId} in ${queue}`);
    return job.waitUntilFinished(events);
  }

  async stateCounts(): Promise<Array<{ queue: string; state: JobState; count: number }>> {
    const states = ['waiting', 'active', 'completed', 'failed', 'delayed'] as const;
    const perQueue = await Promise.all(
      this.options.queues.map(async (queue) => {
        const counts = await this.#queue(queue).getJobCounts(...states);
        return states.map((state) => ({ queue, state, count: counts[state] ?? 0 }));
      }),
    );
    return perQueue.flat();
  }

  async repeat(queue: string, options: RepeatOptions): Promise<void> {
    await this.#queue(queue).upsertJobScheduler(
      assertJobId(options.id),
      { every: options.everyMs },
      {
        name: queue,
        data: options.data ?? {},
        // One attempt: the next run comes soon anyway. Kept briefly, for the failure's message.
        opts: { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } },
      },
    );
  }

  async reachable(): Promise<boolean> {
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000).unref());
    const ping = this.#connection.ping().then(
      (answer) => answer === 'PONG',
      () => false,
    );
    return Promise.race([ping, timeout]);
  }

  /** Workers registered on a queue right now, on any machine. */
  async workerCount(queue: string): Promise<number> {
    return (await this.#queue(queue).getWorkers()).length;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#events.values()].map((events) => events.close()));
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    for (const connection of this.#connections) connection.disconnect();
  }
}

/** The workers `startWorkers` started. */
export interface RunningWorkers {
  /** Stops taking jobs and resolves once the jobs in progress have finished. */
  close(): Promise<void>;
  /** Jobs in progress on this machine. */
  readonly activeCount: number;
  /**
   * Hands the jobs in progress back to their queues (waiting) and cuts the workers' connections; resolves
   * with how many were handed back. For a shutdown whose grace period ran out: the handlers may still be
   * running, so the caller exits the process next. Handlers must already survive a worker dying at any
   * point; another worker runs a returned job from the start.
   */
  requeueActive(): Promise<number>;
}

/** Runs the handlers of the given queues on this machine: what `tenantctl worker` does. */
export function startWorkers(options: {
  redisUrl: string;
  prefix?: string;
  handlers: Record<string, JobHandler>;
  concurrency: number;
  logger: Logger;
}): RunningWorkers {
  const connections: Redis[] = [];
  // Jobs in progress on this machine with their lock tokens, so that they can be handed back.
  const active = new Map<Job, string | undefined>();
  const workers = Object.entries(options.handlers).map(([name, handler]) => {
    const connection = connect(options.redisUrl, options.logger);
    connections.push(connection);
    const worker = new Worker(
      name,
      async (job: Job, token?: string) => {
        active.set(job, token);
        try {
          return await handler(job.data as never, {
            attempt: job.attemptsMade + 1,
            progress: (value) => job.updateProgress(value),
          });
        } finally {
          active.delete(job);
        }
      },
      {
        connection,
        prefix: options.prefix ?? 'tenantplane',
        concurrency: options.concurrency,
      },
    );
    worker.on('failed', (job, error) =>
      options.logger.warn({ queue: name, job: job?.id, err: error }, 'job failed'),
    );
    worker.on('error', (error) => options.logger.error({ queue: name, err: error }, 'worker error'));
    return worker;
  });
  return {
    // Worker.close waits for the jobs in progress to finish.
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
      for (const connection of connections) connection.disconnect();
    },
    get activeCount() {
      return active.size;
    },
    requeueActive: async () => {
      const jobs = [...active];
      // Moving a job back to waiting releases its lock: another worker can take it at once.
      await Promise.all(jobs.map(([job, token]) => job.moveToWait(token)));
      // Not worker.close(true): once a graceful close is under way it returns that close, which waits for
      // the very jobs just handed back. Cutting the connections stops the workers taking any more.
      for (const connection of connections) connection.disconnect();
      return jobs.length;
    },
  };
}
