import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { jobHandlers } from '../src/jobs/job-handlers.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { send } from './support/request-load.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('tier moves on BullMQ workers', function () {
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
});
