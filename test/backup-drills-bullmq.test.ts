import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { requestBackup } from '../src/backup/backup-operations.js';
import { DRILL_QUEUE } from '../src/backup/drills/drill-jobs.js';
import { type RunningWorkers, startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { jobHandlers } from '../src/jobs/job-handlers.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { callJson } from './support/http-client.js';
import { addManagedServer } from './support/managed-admin.js';
import { seedTenantRows } from './support/tenant-rows.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('restore drills as BullMQ jobs run by a worker', function () {
  this.timeout(60000);
  let plane: TestPlane<ServingTenantplane>;
  let workers: RunningWorkers;
  let base: string;
  let admin: string;

  before(async () => {
    const jobsPrefix = `tptest-${randomBytes(4).toString('hex')}`;
    plane = await createTestPlane({ jobsPrefix }, { REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' });
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-q', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'queued', tier: 'pro' }, TEST_ACTOR);
    await seedTenantRows(plane.tp, 'queued', 30);
    base = await plane.listen();
    admin = await plane.mint({ admin: true });
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
    await workers?.close();
    await plane?.close();
  });

  it('queues the drill on the backup-drill queue; the job route shows its progress and the drill', async () => {
    const backup = await requestBackup(plane.tp.backups, 'queued', { actor: TEST_ACTOR });
    await plane.tp.jobs.wait(backup.queue, backup.jobId);
    const queued = await callJson(
      base,
      admin,
      'POST',
      `/admin/v1/tenants/queued/backups/${backup.requestId}/drills`,
    );
    expect(queued.status).to.equal(202);
    expect(queued.body.job_id).to.match(/^drill\.queued\./);
    expect(await plane.tp.jobs.get(DRILL_QUEUE, queued.body.job_id)).to.not.equal(undefined);
    let job: {
      state: string;
      result: Record<string, unknown>;
      progress: { tables?: Record<string, unknown> };
    };
    for (let attempt = 0; ; attempt += 1) {
      job = (await callJson(base, admin, 'GET', `/admin/v1/jobs/${queued.body.job_id}`)).body;
      if (job.state === 'completed' || job.state === 'failed' || attempt > 400) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(job.state).to.equal('completed');
    expect(job.result).to.include({
      backup_id: backup.requestId,
      passed: true,
      method: 'counts_and_digests',
    });
    expect(job.progress.tables).to.include.keys('users', 'deployments');
    const list = await callJson(base, admin, 'GET', '/admin/v1/tenants/queued/backups');
    expect(list.body.data[0].last_drill).to.include({ id: job.result.id, passed: true });
  });
});
