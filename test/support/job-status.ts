import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { Answer } from './request-load.js';

/**
 * Polls `GET /admin/v1/jobs/:id` (through `admin`, a call of the admin API) until the job has completed or
 * failed, and answers its view then; every poll must answer 200.
 */
export async function finishedJob(
  admin: (method: string, path: string) => Promise<Pick<Answer, 'status' | 'body'>>,
  jobId: string,
  pollMs = 100,
  // biome-ignore lint/suspicious/noExplicitAny: jobs are checked field by field by the assertions
): Promise<any> {
  for (;;) {
    const job = await admin('GET', `/admin/v1/jobs/${jobId}`);
    expect(job.status, JSON.stringify(job.body)).to.equal(200);
    if (job.body.state === 'completed' || job.body.state === 'failed') return job.body;
    await sleep(pollMs);
  }
}
