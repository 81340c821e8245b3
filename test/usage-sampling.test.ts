import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { type RunningWorkers, startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { jobHandlers } from '../src/jobs/job-handlers.js';
import type { TenantUsageReport } from '../src/usage/usage-report.js';
import {
  startUsageSampling,
  USAGE_SAMPLE_QUEUE,
  USAGE_SAMPLE_TICK_ID,
  type UsageSampleResult,
} from '../src/usage/usage-sampler.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { addManagedServer } from './support/managed-admin.js';
import { runTenantctl } from './support/tenantctl.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** Deployments each tenant has when sampled (and one workflow each). */
const DEPLOYMENTS = { alpha: 3, bravo: 5, corp: 2 } as const;

describe('usage sampling on BullMQ workers, retention and tenantctl usage', function () {
  // tenantctl children start slowly on a busy machine.
  this.timeout(120000);
  let plane: TestPlane;
  let base: string;
  let admin: string;
  let sampled: UsageSampleResult;
  let workers: RunningWorkers;
  let jobsPrefix: string;
  let runs = 0;

  const sample = async (data: { force?: boolean; batch?: number }) => {
    runs += 1;
    const jobId = `usage-sample-test-${runs}`;
    await plane.tp.jobs.enqueue(USAGE_SAMPLE_QUEUE, data, { jobId });
    return (await plane.tp.jobs.wait(USAGE_SAMPLE_QUEUE, jobId)) as UsageSampleResult;
  };
  const usageOf = async (tenant: string, query = ''): Promise<TenantUsageReport> => {
    const response = await fetch(`${base}/admin/v1/tenants/${tenant}/usage${query}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(response.status).to.equal(200);
    return (await response.json()) as TenantUsageReport;
  };

  before(async () => {
    // Nothing flushed while the test compares answers: what is in tenant_usage is what the sampler wrote.
    jobsPrefix = `tptest-${randomBytes(4).toString('hex')}`;
    plane = await createTestPlane(
      { jobsPrefix },
      { USAGE_FLUSH_INTERVAL_MS: '3600000', REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' },
    );
    // A managed-PostgreSQL admin: row-level security binds it, so the sampler must act as each tenant.
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'alpha', name: 'Alpha', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'bravo', name: 'Bravo', tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'corp', name: 'Corp', tier: 'enterprise' }, TEST_ACTOR);
    base = await plane.listen();
    admin = await plane.mint({ admin: true });
    for (const [tenant, count] of Object.entries(DEPLOYMENTS)) {
      const token = await plane.mint({ tenantId: tenant });
      const post = (resource: string, body: unknown) =>
        fetch(`${base}/api/v1/${resource}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      for (let index = 0; index < count; index += 1) {
        expect((await post('deployments', { project_name: `p${index}`, status: 'ready' })).status).to.equal(
          201,
        );
      }
      expect((await post('workflows', { name: 'w', status: 'active', config: {} })).status).to.equal(201);
    }
    // Usage older than the retention (400 days by default), and some just inside it.
    await adminQuery(
      `${plane.prefix}_control`,
      `INSERT INTO tenant_usage (tenant_id, period_start, requests)
       VALUES ('alpha', date_trunc('hour', now() - interval '401 days'), 7),
              ('alpha', date_trunc('hour', now() - interval '399 days'), 9)`,
    );
    // A worker in this process, on the same Redis queues; the sampler's tick as `tenantctl worker` sets it.
    workers = startWorkers({
      redisUrl: TEST_REDIS_URL,
      prefix: jobsPrefix,
      handlers: jobHandlers(plane.tp),
      concurrency: 1,
      logger: plane.tp.logger,
    });
    await startUsageSampling(plane.tp.jobs);
    const control = `${plane.prefix}_control`;
    // The scheduler's first tick claims and samples the hour.
    for (;;) {
      const { rows } = await adminQuery<{ n: number }>(
        control,
        'SELECT count(*)::int AS n FROM tenant_usage WHERE storage_bytes IS NOT NULL',
      );
      if (rows[0]!.n === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // No further tick while the test takes batches itself.
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const ticks = new Queue(USAGE_SAMPLE_QUEUE, { connection, prefix: jobsPrefix });
    await ticks.removeJobScheduler(USAGE_SAMPLE_TICK_ID);
    await ticks.close();
    connection.disconnect();
    sampled = await sample({ force: true });
  });
  after(async () => {
    await workers?.close();
    // The tick's job scheduler would stay in Redis under this test's prefix.
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(USAGE_SAMPLE_QUEUE, { connection, prefix: jobsPrefix });
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
    await plane?.close();
  });

  it('records every tenant’s storage and rows for the hour, on a worker, and refreshes tenant_sizes', async () => {
    expect(sampled.tenants).to.equal(3);
    expect(sampled.failed_databases).to.deep.equal([]);
    expect(sampled.period_start).to.equal(
      new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString(),
    );
    const sizes = await plane.tp.knex('tenant_sizes').select('tenant_id', 'bytes').orderBy('tenant_id');
    for (const [tenant, count] of Object.entries(DEPLOYMENTS)) {
      const [period] = (await usageOf(tenant, '?granularity=day')).data.slice(-1);
      // Its deployments and its one workflow: the sampler counts every tenant table.
      expect(period!.rows, tenant).to.equal(count + 1);
      expect(period!.storage_bytes, tenant).to.be.greaterThan(0);
      const size = sizes.find((row: { tenant_id: string }) => row.tenant_id === tenant);
      expect(Number(size?.bytes), `${tenant} tenant_sizes`).to.equal(period!.storage_bytes);
    }
    // More rows weigh more: bravo has more deployments than alpha, with rows of the same shape.
    const storage = async (tenant: string) => (await usageOf(tenant)).data.at(-1)!.storage_bytes!;
    expect(await storage('bravo')).to.be.greaterThan(await storage('alpha'));
  });

  it('samples each hour once, in batches of tenants taken tick after tick, unless forced', async () => {
    expect(sampled).to.deep.include({ tenants: 3, finished: true });
    expect(await sample({})).to.deep.include({ period_start: null, tenants: 0 });
    expect(await sample({ force: true, batch: 2 })).to.deep.include({ tenants: 2, finished: false });
    expect(await sample({ batch: 2 })).to.deep.include({ tenants: 1, finished: true });
    expect(await sample({ batch: 2 })).to.deep.include({ period_start: null, tenants: 0 });
  });

  it('deletes usage older than USAGE_RETENTION_DAYS', async () => {
    const kept = await adminQuery<{ requests: string }>(
      `${plane.prefix}_control`,
      "SELECT requests::text FROM tenant_usage WHERE tenant_id = 'alpha' AND period_start < now() - interval '1 day'",
    );
    expect(kept.rows.map((row) => row.requests)).to.deep.equal(['9']);
  });

  it('tenantctl usage and usage export give what the API gives', async () => {
    const env = plane.cliEnv();
    const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const file = path.join(plane.dataDir, 'usage.csv');
    const [shown, exported, bad] = await Promise.all([
      runTenantctl(env, 'usage', 'bravo', '--from', from, '--to', to, '--json'),
      runTenantctl(env, 'usage', 'export', '--from', from, '--to', to, '--output', file, '--json'),
      runTenantctl(env, 'usage', 'alpha', '--granularity', 'week', '--json'),
    ]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(JSON.parse(shown.stdout)).to.deep.equal(await usageOf('bravo', `?from=${from}&to=${to}`));

    expect(exported.code, exported.stderr).to.equal(0);
    const csv = await fetch(`${base}/admin/v1/usage.csv?from=${from}&to=${to}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const text = await csv.text();
    expect(await readFile(file, 'utf8')).to.equal(text);
    expect(JSON.parse(exported.stdout)).to.deep.equal({ output: file, rows: 3 });
    expect(text.split('\r\n')[1]).to.match(/^alpha,/);

    expect([bad.code, JSON.parse(bad.stdout).error.code]).to.deep.equal([2, 'invalid_query']);
  });
});
