import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { InlineJobQueue } from '../src/jobs/inline-job-queue.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { callJson } from './support/http-client.js';
import { type OwnRedis, startOwnRedis } from './support/own-redis.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import { eventsOf } from './support/server-sent-events.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

/** A queue of the plane's that no worker takes from here: its jobs stay waiting, so their streams stay open. */
const IDLE_QUEUE = 'server-drain';

/** `promise`, or a failure naming `what` once `ms` have passed without it settling (a hang, not slowness). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A server-sent event stream as the client reads it: its `data:` events, one at a time, and its end. */
interface EventStream {
  /** The next event's data, or undefined once the server has ended the stream. */
  next(): Promise<{ id: string; state: string } | undefined>;
  abort(): void;
}

async function openStream(base: string, token: string, id: string): Promise<EventStream> {
  const controller = new AbortController();
  const response = await within(
    fetch(`${base}/admin/v1/jobs/${id}/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    }),
    20000,
    `the event stream of ${id} to open`,
  );
  if (response.status !== 200) {
    throw new Error(`the event stream of ${id} answered ${response.status}: ${await response.text()}`);
  }
  expect(response.headers.get('content-type')).to.match(/^text\/event-stream/);
  const events = eventsOf<{ id: string; state: string }>(response.body!);
  return {
    async next() {
      const event = await events.next();
      return event.done ? undefined : event.value;
    },
    abort() {
      controller.abort();
      events.return(undefined).catch(() => {});
    },
  };
}

/** Counts the queue reads of each job id the routes make (the event stream reads through `find`). */
function countFinds(tp: ServingTenantplane): { reads: Map<string, number>; restore(): void } {
  const jobs = tp.jobs;
  const find = jobs.find.bind(jobs);
  const reads = new Map<string, number>();
  jobs.find = async (jobId) => {
    reads.set(jobId, (reads.get(jobId) ?? 0) + 1);
    return find(jobId);
  };
  return { reads, restore: () => (jobs.find = find) };
}

/**
 * After an outage ended a stream of `endedId`: a new stream of `newId` opens, first shows `state`, and
 * polls four times (three poll intervals at least), while the ended stream's job is read no more (its
 * poll timer stopped).
 */
async function expectNewStreamAndEndedOneQuiet(
  stream: { base: string; token: string; counted: ReturnType<typeof countFinds> },
  ended: { id: string; readsAtEnd: number },
  fresh: { id: string; state: string },
): Promise<void> {
  const { base, token, counted } = stream;
  const again = await openStream(base, token, fresh.id);
  try {
    expect(await within(again.next(), 10000, 'the first event after the outage')).to.include(fresh);
    await until(() => (counted.reads.get(fresh.id) ?? 0) >= 5, 'the new stream to poll');
  } finally {
    again.abort();
  }
  expect(counted.reads.get(ended.id) ?? 0, 'reads of the ended stream').to.equal(ended.readsAtEnd);
}

describe('job list and job event stream when Redis goes away (a test-owned redis-server)', function () {
  this.timeout(90000);
  let redis: OwnRedis;
  let plane: TestPlane;
  let base: string;
  let viewer: string;

  before(async () => {
    redis = await startOwnRedis();
    plane = await createTestPlane(
      { jobsPrefix: `job-faults-${randomBytes(4).toString('hex')}` },
      { REDIS_URL: redis.url, RATE_LIMITS: 'off' },
    );
    base = await plane.listen();
    viewer = await plane.mint({ scopes: ['tenantplane:viewer'], subject: 'viewer' });
  });

  // Each test starts with Redis up, whatever the one before left.
  beforeEach(() => redis.start());

  after(async () => {
    // The plane closes its queues through Redis: give it one, then stop ours for good.
    if (redis && !redis.running) await redis.start().catch(() => {});
    await plane?.close();
    await redis?.kill();
  });

  async function enqueue(id: string): Promise<void> {
    await plane.tp.jobs.enqueue(IDLE_QUEUE, {}, { jobId: id, attempts: 1 });
  }

  function list(query = '') {
    return within(
      callJson(base, viewer, 'GET', `/admin/v1/jobs${query}`),
      20000,
      `GET /admin/v1/jobs${query}`,
    );
  }

  it('lists answer 503 redis_unreachable while Redis is down, and list again once it is back', async () => {
    for (const id of ['before-outage-1', 'before-outage-2']) await enqueue(id);
    const before = await list(`?queue=${IDLE_QUEUE}`);
    expect(before.status, JSON.stringify(before.body)).to.equal(200);
    expect(before.body.data.map((job: { id: string }) => job.id)).to.have.members([
      'before-outage-1',
      'before-outage-2',
    ]);

    await redis.kill();
    for (const query of ['', `?queue=${IDLE_QUEUE}&state=waiting&limit=5`]) {
      const down = await list(query);
      expect([down.status, down.body.error?.code], JSON.stringify(down.body)).to.deep.equal([
        503,
        'redis_unreachable',
      ]);
      expect(down.headers.get('retry-after')).to.equal('1');
      expect(down.body.error, 'a code and a message, no stack').to.have.all.keys('code', 'message');
    }
    // A job's own route and a new event stream read the same queue: 503 as well, not a hang.
    for (const path of ['/admin/v1/jobs/before-outage-1', '/admin/v1/jobs/before-outage-1/events']) {
      const down = await within(callJson(base, viewer, 'GET', path), 20000, `GET ${path}`);
      expect([down.status, down.body.error?.code], JSON.stringify(down.body)).to.deep.equal([
        503,
        'redis_unreachable',
      ]);
    }

    // Back, empty (no persistence): the list answers again, and shows what is queued from now on.
    await redis.start();
    await until(async () => (await list()).status === 200, 'the list to answer 200 again');
    await enqueue('after-outage');
    const after = await list(`?queue=${IDLE_QUEUE}`);
    expect(after.status, JSON.stringify(after.body)).to.equal(200);
    expect(after.body.data.map((job: { id: string }) => job.id)).to.deep.equal(['after-outage']);
  });

  it('ends an open event stream when Redis goes away, stops polling it, and streams again once Redis is back', async () => {
    await enqueue('followed-through-outage');
    const counted = countFinds(plane.tp);
    try {
      const stream = await openStream(base, viewer, 'followed-through-outage');
      expect(await within(stream.next(), 10000, 'the first event')).to.include({
        id: 'followed-through-outage',
        state: 'waiting',
      });
      // The stream polls while Redis answers…
      await until(() => (counted.reads.get('followed-through-outage') ?? 0) >= 3, 'the stream to poll');

      await redis.kill();
      // …and ends once it cannot read the job (no further data event), rather than hanging on.
      expect(await within(stream.next(), 20000, 'the stream to end after Redis went away')).to.equal(
        undefined,
      );
      const readsAtEnd = counted.reads.get('followed-through-outage') ?? 0;

      await redis.start();
      await enqueue('followed-after-outage');
      await expectNewStreamAndEndedOneQuiet(
        { base, token: viewer, counted },
        { id: 'followed-through-outage', readsAtEnd },
        { id: 'followed-after-outage', state: 'waiting' },
      );
    } finally {
      counted.restore();
    }
  });
});

describe('job list and job event stream when the control database goes away (through a proxy)', function () {
  this.timeout(90000);
  let plane: TestPlane;
  let proxy: PgProxy;
  let served: ServingTenantplane;
  let server: Server;
  let base: string;
  let viewer: string;

  before(async () => {
    plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    proxy = await startPgProxy();
    // The instance under test reaches the control database only through the proxy.
    served = await plane.openAnother({
      serveTraffic: true,
      controlDatabaseUrl: proxy.url(`${plane.prefix}_control`),
    });
    server = await served.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    viewer = await plane.mint({ scopes: ['tenantplane:viewer'], subject: 'viewer' });
    const jobs = served.jobs;
    if (!(jobs instanceof InlineJobQueue)) throw new Error('expected the inline queue without REDIS_URL');
    jobs.register({
      'job-faults-failing': async () => {
        throw new Error('boom');
      },
    });
    // A failed job: the list reads its error code from the control database.
    await jobs.enqueue('job-faults-failing', {}, { jobId: 'failed-job', attempts: 1 });
    await jobs.wait('job-faults-failing', 'failed-job').catch(() => {});
  });

  after(async () => {
    proxy?.release();
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server.close(resolve));
    await plane?.close();
    await proxy?.close();
  });

  function list() {
    return within(callJson(base, viewer, 'GET', '/admin/v1/jobs'), 20000, 'GET /admin/v1/jobs');
  }

  it('the list answers 503 catalog_unavailable while the control database is cut, and 200 once it is back', async () => {
    const before = await list();
    expect(before.status, JSON.stringify(before.body)).to.equal(200);
    expect(before.body.data.map((job: { id: string }) => job.id)).to.include('failed-job');

    proxy.cut(() => true);
    try {
      const down = await list();
      expect([down.status, down.body.error?.code], JSON.stringify(down.body)).to.deep.equal([
        503,
        'catalog_unavailable',
      ]);
      expect(down.body.error, 'a code and a message, no stack').to.have.all.keys('code', 'message');
    } finally {
      proxy.release();
    }
    await until(async () => (await list()).status === 200, 'the list to answer 200 again');
  });

  it('ends an event stream that reads the control database when it is cut, and streams again once it is back', async () => {
    // A backup request whose job this queue does not hold (as after a restart of an inline queue's
    // process): the stream reads it from the control database on every poll.
    const request = async (id: string) =>
      plane.tp
        .knex('backup_requests')
        .insert({ id, tenant_id: `tenant-${id}`, kind: 'backup', job_id: id, actor: 'test' });
    await request('request-through-outage');
    const counted = countFinds(served);
    try {
      const stream = await openStream(base, viewer, 'request-through-outage');
      expect(await within(stream.next(), 10000, 'the first event')).to.include({
        id: 'request-through-outage',
        state: 'unknown',
      });
      await until(() => (counted.reads.get('request-through-outage') ?? 0) >= 3, 'the stream to poll');

      proxy.cut(() => true);
      try {
        expect(await within(stream.next(), 20000, 'the stream to end after the cut')).to.equal(undefined);
      } finally {
        proxy.release();
      }
      const readsAtEnd = counted.reads.get('request-through-outage') ?? 0;

      await request('request-after-outage');
      await expectNewStreamAndEndedOneQuiet(
        { base, token: viewer, counted },
        { id: 'request-through-outage', readsAtEnd },
        { id: 'request-after-outage', state: 'unknown' },
      );
    } finally {
      counted.restore();
    }
  });
});
