import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { type RunningWorkers, startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { InlineJobQueue } from '../src/jobs/inline-job-queue.js';
import type { JobHandler } from '../src/jobs/job-queue.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { callJson } from './support/http-client.js';
import { removeQueueKeys } from './support/redis-keys.js';
import { eventsOf } from './support/server-sent-events.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

/** Lets a job go one step further each time the test releases it, whichever comes first. */
class Gate {
  private passes = 0;
  private readonly waiting: Array<() => void> = [];
  pass(): Promise<void> {
    if (this.passes > 0) {
      this.passes--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.passes++;
  }
}

const gates = new Map<string, Gate>();
function gateOf(key: string): Gate {
  const gate = gates.get(key) ?? new Gate();
  gates.set(key, gate);
  return gate;
}

const STEPS = 3;
/** Reports `{done, total}` after each step and waits for the test before the next; fails at the end if asked. */
const steppedHandler: JobHandler = async (data: { key: string; fail?: boolean }, context) => {
  for (let done = 1; done <= STEPS; done++) {
    await context.progress({ done, total: STEPS });
    await gateOf(data.key).pass();
  }
  if (data.fail) throw new Error('boom');
  return { steps: STEPS };
};

interface StreamedJob {
  id: string;
  state: string;
  progress: { done?: number; total?: number } | number | null;
  result: unknown;
  error: string | null;
  error_code: string | null;
}

interface Setup {
  plane: TestPlane;
  /** A queue whose jobs run steppedHandler. */
  queue: string;
  close(): Promise<void>;
}

function followsJobs(kind: string, setUp: () => Promise<Setup>) {
  describe(`GET /admin/v1/jobs/{id}/events on the ${kind} queue`, function () {
    this.timeout(60000);
    let setup: Setup;
    let base: string;
    let viewer: string;

    before(async () => {
      setup = await setUp();
      base = await setup.plane.listen();
      viewer = await setup.plane.mint({ scopes: ['tenantplane:viewer'], subject: 'viewer' });
    });
    after(async () => {
      await setup?.close();
    });

    async function start(fail = false) {
      const key = `followed-${randomBytes(4).toString('hex')}`;
      await setup.plane.tp.jobs.enqueue(setup.queue, { key, fail }, { jobId: key, attempts: 1 });
      return key;
    }

    function open(id: string, signal?: AbortSignal) {
      return fetch(`${base}/admin/v1/jobs/${id}/events`, {
        headers: { authorization: `Bearer ${viewer}` },
        ...(signal ? { signal } : {}),
      });
    }

    /** Streams the job to its end, releasing each step once the stream has shown it. */
    async function follow(id: string) {
      const response = await open(id);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/^text\/event-stream/);
      expect(response.headers.get('cache-control')).to.equal('no-cache');
      expect(response.headers.get('x-accel-buffering')).to.equal('no');
      const seen: StreamedJob[] = [];
      const released = new Set<number>();
      for await (const job of eventsOf<StreamedJob>(response.body!)) {
        seen.push(job);
        const done = typeof job.progress === 'object' ? job.progress?.done : undefined;
        if (done !== undefined && !released.has(done)) {
          released.add(done);
          gateOf(id).release();
        }
      }
      return seen;
    }

    it('sends the job at once, each step of its progress, and ends after it completes', async () => {
      const id = await start();
      const seen = await follow(id);
      expect(seen.every((job) => job.id === id)).to.equal(true);
      expect(['waiting', 'active']).to.include(seen[0]!.state);
      const steps = seen
        .filter((job) => job.state === 'active')
        .map((job) => (job.progress as { done: number }).done);
      // Each step waits until the stream has shown it, so every one appears, once, in order.
      expect(steps).to.deep.equal([1, 2, 3]);
      const last = seen.at(-1)!;
      expect(last.state).to.equal('completed');
      expect(last.result).to.deep.equal({ steps: STEPS });
      // Only changes are sent.
      const texts = seen.map((job) => JSON.stringify(job));
      expect(new Set(texts).size).to.equal(texts.length);
    });

    it('ends after a failed state, with the error', async () => {
      const id = await start(true);
      const last = (await follow(id)).at(-1)!;
      expect(last.state).to.equal('failed');
      expect(last.error).to.equal('boom');
    });

    it('sends a finished job once and ends', async () => {
      const id = await start();
      for (let step = 0; step < STEPS; step++) gateOf(id).release();
      await setup.plane.tp.jobs.wait(setup.queue, id);
      const seen = await follow(id);
      expect(seen.map((job) => job.state)).to.deep.equal(['completed']);
    });

    it('answers 404 for an unknown job and 401 without a token', async () => {
      const unknown = await callJson(base, viewer, 'GET', '/admin/v1/jobs/no-such-job/events');
      expect(unknown.status).to.equal(404);
      expect(unknown.body.error.code).to.equal('job_not_found');
      const anonymous = await callJson(base, undefined, 'GET', '/admin/v1/jobs/no-such-job/events');
      expect(anonymous.status).to.equal(401);
    });

    it('stops reading the job once the client goes away', async () => {
      const id = await start();
      const jobs = setup.plane.tp.jobs;
      const find = jobs.find.bind(jobs);
      let reads = 0;
      jobs.find = async (jobId) => {
        if (jobId === id) reads++;
        return find(jobId);
      };
      try {
        const controller = new AbortController();
        const response = await open(id, controller.signal);
        const events = eventsOf<StreamedJob>(response.body!);
        expect((await events.next()).value?.id).to.equal(id);
        // Reads go on while the client listens…
        while (reads < 3) await new Promise((resolve) => setTimeout(resolve, 50));
        controller.abort();
        await events.return(undefined).catch(() => {});
        // …and stop once it has gone: after a second (four poll intervals), one read in flight at most.
        const atClose = reads;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(reads - atClose).to.be.at.most(1);
        const status = await callJson(base, viewer, 'GET', `/admin/v1/jobs/${id}`);
        expect(status.status).to.equal(200);
        expect(status.body.id).to.equal(id);
      } finally {
        jobs.find = find;
        for (let step = 0; step < STEPS; step++) gateOf(id).release();
        await jobs.wait(setup.queue, id);
      }
    });
  });
}

followsJobs('BullMQ', async () => {
  const jobsPrefix = `job-events-${randomBytes(4).toString('hex')}`;
  const plane = await createTestPlane({ jobsPrefix }, { REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' });
  // A worker for one of the plane's queues, running stepped jobs in place of its real work.
  const workers: RunningWorkers = startWorkers({
    redisUrl: TEST_REDIS_URL,
    prefix: jobsPrefix,
    handlers: { 'server-drain': steppedHandler },
    concurrency: 4,
    logger: plane.tp.logger,
  });
  return {
    plane,
    queue: 'server-drain',
    async close() {
      await workers.close();
      await plane.close();
      await removeQueueKeys(jobsPrefix);
    },
  };
});

followsJobs('inline', async () => {
  const plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
  const jobs = plane.tp.jobs;
  if (!(jobs instanceof InlineJobQueue)) throw new Error('expected the inline queue without REDIS_URL');
  jobs.register({ 'job-events-test': steppedHandler });
  return { plane, queue: 'job-events-test', close: () => plane.close() };
});
