import { Router } from 'express';
import type { BackupRequests } from '../../backup/backup-requests.js';
import { UnavailableError } from '../../errors/index.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { encodeJobCursor, jobListOptionsOf } from '../job-list-query.js';

/** A read of the queue unanswered this long asks whether its store answers at all; again as long as it waits. */
const QUEUE_CHECK_MS = 1000;

/**
 * What `read` (a read of the queue) answers, or 503 `redis_unreachable` once the queue's store stops
 * answering. BullMQ's Redis connection holds commands while Redis is away (retrying without end, as its
 * workers need), so a read would otherwise wait until Redis is back: a request that hangs, an event stream
 * that goes silent. A slow read whose store still answers is waited for. The inline queue always answers.
 */
export async function readQueue<T>(jobs: Pick<JobQueue, 'reachable'>, read: Promise<T>): Promise<T> {
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const unreachable = new Promise<never>((_, reject) => {
    const check = async () => {
      const answers = await jobs.reachable().catch(() => false);
      if (settled) return;
      if (!answers) {
        reject(
          new UnavailableError('the job queue (Redis) is unreachable', 'redis_unreachable', {
            retryAfterSeconds: 1,
          }),
        );
        return;
      }
      timer = setTimeout(check, QUEUE_CHECK_MS);
    };
    timer = setTimeout(check, QUEUE_CHECK_MS);
  });
  try {
    return await Promise.race([read, unreachable]);
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}

/** What the job list reads: the queues, and the backup requests that keep a failed job's error code. */
export interface AdminJobsDeps {
  jobs: Pick<JobQueue, 'list' | 'queueNames' | 'reachable'>;
  backups: { requests: Pick<BackupRequests, 'jobById'> };
}

/** The jobs the queues hold, newest first, a page at a time, under /admin/v1. */
export function adminJobsApi(tp: AdminJobsDeps): Router {
  const router = Router();

  router.get('/jobs', async (req, res) => {
    const options = jobListOptionsOf(req, tp.jobs.queueNames);
    // One more than the page: whether there is a next page, without a second read.
    const jobs = await readQueue(tp.jobs, tp.jobs.list({ ...options, limit: options.limit + 1 }));
    const page = jobs.slice(0, options.limit);
    const data = await Promise.all(
      page.map(async (job) => ({
        id: job.id,
        queue: job.queue,
        state: job.state,
        progress: job.progress,
        tenant_id: job.tenantId,
        created_at: new Date(job.createdAt).toISOString(),
        finished_at: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
        error: job.error,
        // The queue keeps a failed job's message only; an export's, backup's or restore's code is in its request.
        error_code:
          job.state === 'failed' ? ((await tp.backups.requests.jobById(job.id))?.errorCode ?? null) : null,
      })),
    );
    const last = page.at(-1);
    res.json({ data, next_cursor: jobs.length > options.limit && last ? encodeJobCursor(last) : null });
  });

  return router;
}
