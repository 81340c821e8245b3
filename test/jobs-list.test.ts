import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { type RunningWorkers, startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { InlineJobQueue } from '../src/jobs/inline-job-queue.js';
import type { JobHandler } from '../src/jobs/job-queue.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { callJson } from './support/http-client.js';
import { removeQueueKeys } from './support/redis-keys.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

/** Completes, or fails with "boom" when its data says so. */
const quickHandler: JobHandler = async (data: { fail?: boolean }) => {
  if (data.fail) throw new Error('boom');
  return { ok: true };
};

interface Setup {
  plane: TestPlane;
  /** The queue whose jobs run to an end, and a second queue. */
  finishing: string;
  other: string;
  close(): Promise<void>;
}

/** The list route on a plane whose queue is BullMQ (with a worker in this process) or inline. */
function listsJobs(kind: string, setUp: () => Promise<Setup>) {
  describe(`GET /admin/v1/jobs on the ${kind} queue`, function () {
    this.timeout(60000);
    let setup: Setup;
    let base: string;
    let viewer: string;
    const expected = new Map<string, { queue: string; failed: boolean; tenant: string | null }>();

    async function list(query: string) {
      return callJson(base, viewer, 'GET', `/admin/v1/jobs${query}`);
    }

    /** Every page from `query` on, each listed job's key, in the order listed; `between` runs after page 1. */
    async function pageThrough(query: string, between: () => Promise<void> = async () => {}) {
      const keys: string[] = [];
      const createdAt: number[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(`${query}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status, JSON.stringify(page.body)).to.equal(200);
        for (const job of page.body.data) {
          keys.push(`${job.queue}/${job.id}`);
          createdAt.push(Date.parse(job.created_at));
        }
        if (cursor === null) await between();
        cursor = page.body.next_cursor;
      } while (cursor);
      return { keys, createdAt };
    }

    async function enqueue(queue: string, id: string, fail: boolean, tenant: string | null) {
      const jobs = setup.plane.tp.jobs;
      await jobs.enqueue(
        queue,
        { fail, ...(tenant ? { tenantId: tenant } : {}) },
        { jobId: id, attempts: 1 },
      );
      expected.set(`${queue}/${id}`, { queue, failed: fail, tenant });
      await jobs.wait(queue, id).catch(() => {});
    }

    before(async () => {
      setup = await setUp();
      base = await setup.plane.listen();
      viewer = await setup.plane.mint({ scopes: ['tenantplane:viewer'], subject: 'viewer' });
      for (let n = 0; n < 24; n++) {
        const id = `listed-${String(n).padStart(2, '0')}`;
        await enqueue(n % 2 ? setup.finishing : setup.other, id, n % 5 === 0, n % 3 === 0 ? 'acme' : null);
      }
    });
    after(async () => {
      await setup?.close();
    });

    it('pages through every job once, newest first, while more jobs arrive', async () => {
      const before = new Set(expected.keys());
      const { keys, createdAt } = await pageThrough('?limit=5', async () => {
        // Newer than every page: never listed on the pages after the first.
        await enqueue(setup.finishing, 'arrived-later', false, null);
      });
      expect(new Set(keys).size, 'no job twice').to.equal(keys.length);
      expect(new Set(keys)).to.deep.equal(before);
      expect(createdAt).to.deep.equal([...createdAt].sort((a, b) => b - a));
      expect(keys.slice(0, 5)).to.include(`${setup.other}/listed-22`);

      const again = await pageThrough('?limit=7');
      expect(again.keys[0]).to.equal(`${setup.finishing}/arrived-later`);
      expect(again.keys).to.have.length(expected.size);
    });

    it('filters by queue and by state, with each failed job’s error and tenant', async () => {
      const failed = await list(`?queue=${setup.finishing}&state=failed&limit=200`);
      expect(failed.status).to.equal(200);
      const wanted = [...expected].filter(([, job]) => job.queue === setup.finishing && job.failed);
      expect(wanted.length).to.be.greaterThan(0);
      expect(failed.body.data.map((job: { id: string }) => `${setup.finishing}/${job.id}`)).to.have.members(
        wanted.map(([key]) => key),
      );
      for (const job of failed.body.data) {
        expect(job).to.include({ queue: setup.finishing, state: 'failed', error: 'boom', error_code: null });
        expect(job.tenant_id).to.equal(expected.get(`${setup.finishing}/${job.id}`)!.tenant);
        expect(Date.parse(job.finished_at)).to.be.at.least(Date.parse(job.created_at));
      }
      expect(failed.body.next_cursor).to.equal(null);

      const completed = await pageThrough(`?queue=${setup.other}&state=completed&limit=3`);
      const others = [...expected].filter(([, job]) => job.queue === setup.other && !job.failed);
      expect(completed.keys).to.have.members(others.map(([key]) => key));
    });

    it('refuses a bad queue, state, limit or cursor with 400', async () => {
      const cases: Array<[string, string]> = [
        ['?queue=no-such-queue', 'invalid_query'],
        ['?state=finished', 'invalid_query'],
        ['?state=failed&state=completed', 'invalid_query'],
        ['?limit=0', 'invalid_limit'],
        ['?limit=201', 'invalid_limit'],
        ['?cursor=not-a-cursor', 'invalid_cursor'],
        [`?cursor=${Buffer.from(JSON.stringify([-1, 'q', 'id'])).toString('base64url')}`, 'invalid_cursor'],
      ];
      for (const [query, code] of cases) {
        const answer = await list(query);
        expect([query, answer.status, answer.body.error?.code]).to.deep.equal([query, 400, code]);
      }
      expect((await callJson(base, undefined, 'GET', '/admin/v1/jobs')).status).to.equal(401);
    });
  });
}

listsJobs('BullMQ', async () => {
  const jobsPrefix = `jobs-list-${randomBytes(4).toString('hex')}`;
  const plane = await createTestPlane({ jobsPrefix }, { REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' });
  // A worker for two of the plane's queues, running quick jobs in place of their real work.
  const workers: RunningWorkers = startWorkers({
    redisUrl: TEST_REDIS_URL,
    prefix: jobsPrefix,
    handlers: { 'server-drain': quickHandler, 'shard-rebalance': quickHandler },
    concurrency: 4,
    logger: plane.tp.logger,
  });
  return {
    plane,
    finishing: 'server-drain',
    other: 'shard-rebalance',
    async close() {
      await workers.close();
      await plane.close();
      await removeQueueKeys(jobsPrefix);
    },
  };
});

listsJobs('inline', async () => {
  const plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
  // Queues of the test's own beside the plane's, with quick jobs.
  const jobs = plane.tp.jobs;
  if (!(jobs instanceof InlineJobQueue)) throw new Error('expected the inline queue without REDIS_URL');
  jobs.register({ 'list-test-a': quickHandler, 'list-test-b': quickHandler });
  return { plane, finishing: 'list-test-a', other: 'list-test-b', close: () => plane.close() };
});
