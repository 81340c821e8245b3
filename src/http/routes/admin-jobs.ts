import { Router } from 'express';
import type { BackupRequests } from '../../backup/backup-requests.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { readQueue } from '../../jobs/queue-read.js';
import { encodeJobCursor, jobListOptionsOf } from '../job-list-query.js';

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
