import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type { BullJobQueue } from '../src/jobs/bullmq-job-queue.js';
import { MIGRATION_TARGET_QUEUE } from '../src/migrations/migration-jobs.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { copyOfTenantMigrations, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('distributed fleet migrations', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let migrationsDir: string;
  const jobsPrefix = `tptest-${randomBytes(4).toString('hex')}`;
  const workers: ChildProcess[] = [];
  const tenants = ['dist-a', 'dist-b', 'dist-c', 'dist-d', 'dist-e', 'dist-f'];

  before(async () => {
    migrationsDir = await copyOfTenantMigrations();
    plane = await createTestPlane(
      { tenantMigrationsDir: migrationsDir, jobsPrefix },
      { REDIS_URL: TEST_REDIS_URL },
    );
    await plane.addServer('pg-main', 40);
    await plane.tp.shards.add({ id: 'shard-d', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of tenants) await plane.tp.tenants.create({ id, tier: 'enterprise' }, TEST_ACTOR);
    for (let i = 0; i < 2; i++) {
      workers.push(
        spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--concurrency', '1'], {
          env: plane.cliEnv({
            TENANT_MIGRATIONS_DIR: migrationsDir,
            REDIS_URL: TEST_REDIS_URL,
            JOBS_PREFIX: jobsPrefix,
            LOG_LEVEL: 'warn',
          }),
          stdio: 'ignore',
        }),
      );
    }
    const jobs = plane.tp.jobs as BullJobQueue;
    for (let i = 0; i < 200 && (await jobs.workerCount(MIGRATION_TARGET_QUEUE)) < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await jobs.workerCount(MIGRATION_TARGET_QUEUE)).to.equal(2);
    // Both registered in the instance registry, as workers holding no router share.
    const registered = await plane.tp
      .knex('instances')
      .where({ kind: 'worker' })
      .select<Array<{ router_share_ppm: number }>>('router_share_ppm');
    expect(registered.map((row) => row.router_share_ppm)).to.deep.equal([0, 0]);
  });
  after(async () => {
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
    await plane.close();
    await rm(migrationsDir, { recursive: true, force: true });
  });

  it('spreads a run over two workers, sharing the ledger and locks', async () => {
    await writeFile(
      path.join(migrationsDir, '0003_slowly.sql'),
      'ALTER TABLE deployments ADD COLUMN shipped boolean;\nSELECT pg_sleep(0.2);',
    );
    const result = await (await plane.tp.fleetRunner({ distributed: true })).run({
      direction: 'up',
      actor: 'test',
      concurrency: 4,
    });
    expect(result.status).to.equal('succeeded');
    expect(result.targets).to.have.length(tenants.length + 1);
    expect(result.targets.every((target) => target.applied.join() === '0003_slowly')).to.equal(true);
    const processes = new Set(result.targets.map((target) => target.worker));
    expect(processes.size).to.equal(2);
    expect([...processes].some((worker) => worker.endsWith(`:${process.pid}`))).to.equal(false);
    const ledger = await plane.tp.ledger.getRun(result.runId!);
    expect(
      ledger!.targets.every((target) => target.status === 'succeeded' && target.attempts === 1),
    ).to.equal(true);
  });

  it('runs a migration run requested through the admin API as a job', async () => {
    await writeFile(
      path.join(migrationsDir, '0004_more.sql'),
      'ALTER TABLE workflows ADD COLUMN archived boolean;',
    );
    const base = await plane.listen();
    const headers = {
      authorization: `Bearer ${await plane.mint({ admin: true })}`,
      'content-type': 'application/json',
    };
    const accepted = await fetch(`${base}/admin/v1/migrations/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ canary: 1 }),
    });
    expect(accepted.status).to.equal(202);
    const { job_id: jobId } = (await accepted.json()) as { job_id: string };
    let job: { state: string; result: { status: string; targets: number } | null } = {
      state: 'waiting',
      result: null,
    };
    for (let i = 0; i < 300 && job.state !== 'completed' && job.state !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      job = (await (await fetch(`${base}/admin/v1/jobs/${jobId}`, { headers })).json()) as typeof job;
    }
    expect(job.state).to.equal('completed');
    expect(job.result).to.include({ status: 'succeeded', targets: tenants.length + 1 });
    const status = (await (await fetch(`${base}/admin/v1/migrations`, { headers })).json()) as {
      data: Array<{ applied: string[]; pending: string[]; drift: boolean }>;
    };
    expect(status.data).to.have.length(tenants.length + 1);
    expect(
      status.data.every((database) => database.applied.length === 4 && database.pending.length === 0),
    ).to.equal(true);
    const missing = await fetch(`${base}/admin/v1/jobs/nope`, { headers });
    expect(missing.status).to.equal(404);
    const ready = (await (await fetch(`${base}/ready`)).json()) as { checks: Record<string, string> };
    expect(ready.checks.redis).to.equal('ok');
  });
});
