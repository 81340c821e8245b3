import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { jobHandlers } from '../src/jobs/job-handlers.js';
import { TEST_POSTGRES_URL, TEST_REDIS_URL } from './setup/hooks.js';
import { send } from './support/request-load.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('tier moves and drains on BullMQ workers', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let workers: { close(): Promise<void> };

  async function admin(method: string, path: string, body?: unknown) {
    return send(base, method, path, await plane.mint({ admin: true }), body);
  }

  before(async () => {
    const jobsPrefix = `tptest-${randomBytes(4).toString('hex')}`;
    plane = await createTestPlane({ jobsPrefix }, { REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'queued', tier: 'pro' }, TEST_ACTOR);
    await adminQuery(
      `${plane.prefix}_s_shard_one`,
      "INSERT INTO deployments (tenant_id, project_name, status) SELECT 'queued', 'p-' || n, 'ready' FROM generate_series(1, 200) n",
    );
    base = await plane.listen();
    // A worker in this process, on the same Redis queues the API enqueues to.
    workers = startWorkers({
      redisUrl: TEST_REDIS_URL,
      prefix: jobsPrefix,
      handlers: jobHandlers(plane.tp),
      concurrency: 1,
      logger: plane.tp.logger,
    });
  });
  after(async () => {
    await workers.close();
    await plane.close();
  });

  it('runs the move as one job however often it is requested, with its progress and result in the queue', async () => {
    const requests = await Promise.all(
      [1, 2, 3].map(() => admin('PATCH', '/admin/v1/tenants/queued', { tier: 'enterprise' })),
    );
    expect(requests.map((request) => request.status)).to.deep.equal([202, 202, 202]);
    const ids = new Set(requests.map((request) => request.body.job_id));
    expect([...ids]).to.deep.equal(['tenant-move.queued.enterprise.1']);
    let job: { state: string; progress: { phase?: string }; result: Record<string, unknown>; error: string };
    do {
      await sleep(100);
      job = (await admin('GET', '/admin/v1/jobs/tenant-move.queued.enterprise.1')).body as typeof job;
    } while (job.state !== 'completed' && job.state !== 'failed');
    expect(job.state, job.error).to.equal('completed');
    expect(job.progress.phase).to.equal('done');
    expect(job.result).to.include({ moved: true, rows_copied: 200 });
    const rows = await adminQuery(
      `${plane.prefix}_t_queued`,
      "SELECT count(*)::int AS n FROM deployments WHERE tenant_id = 'queued'",
    );
    expect(rows.rows[0]!.n).to.equal(200);
    const again = await admin('PATCH', '/admin/v1/tenants/queued', { tier: 'pro' });
    expect(again.body.job_id, 'a new move after the last one ended').to.equal('tenant-move.queued.pro.2');
  });

  it('drains a server as one job however often it is requested, moving its tenants and reporting progress', async () => {
    // The same PostgreSQL once more under another server id: somewhere for the drained tenant to go.
    await plane.tp.servers.add(
      { id: 'pg-second', adminUrl: TEST_POSTGRES_URL, maxConnections: 40 },
      TEST_ACTOR,
    );
    await plane.tp.shards.add({ id: 'shard-two', serverId: 'pg-second' }, TEST_ACTOR);
    await waitForPlacement('queued', 'shard-one');
    const requests = await Promise.all(
      [1, 2].map(() => admin('POST', '/admin/v1/servers/pg-main/drain', {})),
    );
    expect(requests.map((request) => request.status)).to.deep.equal([202, 202]);
    expect(new Set(requests.map((request) => request.body.job_id))).to.deep.equal(
      new Set(['server-drain.pg-main.1']),
    );
    let job: {
      state: string;
      progress: { phase?: string; done?: number; total?: number };
      result: Record<string, unknown>;
      error: string;
    };
    do {
      await sleep(100);
      job = (await admin('GET', '/admin/v1/jobs/server-drain.pg-main.1')).body as typeof job;
    } while (job.state !== 'completed' && job.state !== 'failed');
    expect(job.state, job.error).to.equal('completed');
    expect(job.progress).to.include({ phase: 'done', done: 1, total: 1 });
    expect(job.result).to.deep.include({ server_id: 'pg-main', moved: 1, remaining: 0, failed: [] });
    expect((await plane.tp.catalog.requireTenant('queued')).databaseId).to.equal('shard-two');
    await plane.tp.catalog.setServerDraining('pg-main', false, TEST_ACTOR);
  });

  /** The move test before this one leaves the tenant on shard-one; run alone, it is there from the start. */
  async function waitForPlacement(tenantId: string, databaseId: string) {
    for (
      let tries = 0;
      (await plane.tp.catalog.requireTenant(tenantId)).databaseId !== databaseId;
      tries += 1
    ) {
      if (tries > 300) throw new Error(`${tenantId} never reached ${databaseId}`);
      await sleep(100);
    }
  }
});
