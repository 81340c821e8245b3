import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import pg from 'pg';
import { shardDatabaseName } from '../src/ids.js';
import { JOB_QUEUES } from '../src/jobs/job-handlers.js';
import { MIGRATION_RUN_QUEUE } from '../src/migrations/migration-jobs.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { blockedOnLock, type ChildService, request, startTenantctl } from './support/child-service.js';
import { parseExposition } from './support/prometheus-text.js';
import {
  adminUrlFor,
  copyOfTenantMigrations,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

describe('graceful shutdown of tenantctl worker', function () {
  this.timeout(90000);
  const jobsPrefix = `tpw${randomBytes(4).toString('hex')}`;
  let plane: TestPlane;
  let migrationsDir: string;
  let shardDatabase: string;
  let locker: pg.Client;

  function startWorker(graceMs: number): Promise<ChildService> {
    return startTenantctl(
      ['worker', '--concurrency', '1', '--health-port', '0'],
      plane.cliEnv({
        REDIS_URL: TEST_REDIS_URL,
        JOBS_PREFIX: jobsPrefix,
        TENANT_MIGRATIONS_DIR: migrationsDir,
        SHUTDOWN_GRACE_MS: String(graceMs),
      }),
      'worker started',
      'healthPort',
    );
  }

  /**
   * A new tenant migration whose ALTER waits for the test's lock on `deployments`, then a fleet run of it
   * as a job: the job stays in progress for as long as the test holds the lock.
   */
  async function queueBlockedRun(name: string): Promise<string> {
    await writeFile(
      path.join(migrationsDir, `${name}.sql`),
      `ALTER TABLE deployments ADD COLUMN ${name.slice(5)} text;\n`,
    );
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE deployments IN ACCESS SHARE MODE');
    const jobId = `shutdown-${name.replaceAll('_', '-')}`;
    await plane.tp.jobs.enqueue(
      MIGRATION_RUN_QUEUE,
      { direction: 'up', actor: 'test' },
      { jobId, attempts: 1 },
    );
    return jobId;
  }

  before(async () => {
    migrationsDir = await copyOfTenantMigrations();
    plane = await createTestPlane(
      { tenantMigrationsDir: migrationsDir, jobsPrefix },
      { REDIS_URL: TEST_REDIS_URL },
    );
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-jobs', serverId: 'pg-main' }, TEST_ACTOR);
    shardDatabase = shardDatabaseName(plane.prefix, 'shard-jobs');
    locker = new pg.Client({ connectionString: adminUrlFor(shardDatabase) });
    await locker.connect();
  });
  afterEach(async () => {
    await locker.query('ROLLBACK');
  });
  after(async () => {
    await locker.end();
    await plane.close();
    await rm(migrationsDir, { recursive: true, force: true });
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    for (const name of JOB_QUEUES) {
      const queue = new Queue(name, { connection, prefix: jobsPrefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    connection.disconnect();
  });

  it('finishes the job in progress, answers /ready 503 meanwhile, and exits 0', async () => {
    const worker = await startWorker(30000);
    try {
      expect((await request(worker.base, 'GET', '/ready')).status).to.equal(200);
      const jobId = await queueBlockedRun('0101_first_note');
      await blockedOnLock(shardDatabase, worker.exited);

      worker.child.kill('SIGTERM');
      for (;;) {
        const ready = await request(worker.base, 'GET', '/ready');
        if (ready.status === 503) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await plane.tp.jobs.get(MIGRATION_RUN_QUEUE, jobId))?.state).to.equal('active');

      await locker.query('COMMIT');
      expect(await worker.exited, worker.stderr()).to.equal(0);
      const job = await plane.tp.jobs.get(MIGRATION_RUN_QUEUE, jobId);
      expect(job?.state).to.equal('completed');
      expect(job?.result).to.include({ status: 'succeeded', targets: 1 });
    } finally {
      worker.child.kill('SIGKILL');
    }
    const column = await locker.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'deployments' AND column_name = 'first_note'",
    );
    expect(column.rowCount).to.equal(1);
  });

  it('hands a job that outlasts SHUTDOWN_GRACE_MS back to the queue and exits 1', async () => {
    const worker = await startWorker(500);
    let jobId: string | undefined;
    try {
      jobId = await queueBlockedRun('0102_second_note');
      await blockedOnLock(shardDatabase, worker.exited);
      worker.child.kill('SIGTERM');
      expect(await worker.exited, worker.stderr()).to.equal(1);
      expect(worker.stderr()).to.match(/"returned":1[^\n]*handed back/);
    } finally {
      worker.child.kill('SIGKILL');
    }
    // Waiting again, not failed and not stuck as active: the next worker takes it from the start.
    const job = await plane.tp.jobs.get(MIGRATION_RUN_QUEUE, jobId);
    expect(job?.state).to.equal('waiting');
    expect(job?.error).to.equal(null);
  });

  it('serves the job series of the jobs it ran on /metrics beside the probes', async () => {
    const worker = await startWorker(30000);
    try {
      const jobId = 'metrics-run';
      await plane.tp.jobs.enqueue(
        MIGRATION_RUN_QUEUE,
        { direction: 'up', actor: 'test' },
        { jobId, attempts: 1 },
      );
      await plane.tp.jobs.wait(MIGRATION_RUN_QUEUE, jobId);
      // The run the previous test handed back is this worker's too.
      await plane.tp.jobs.wait(MIGRATION_RUN_QUEUE, 'shutdown-0102-second-note');
      const page = await request(worker.base, 'GET', '/metrics');
      expect(page.status).to.equal(200);
      const exposition = parseExposition(page.body);
      expect(exposition.problems).to.deep.equal([]);
      const runs = exposition.samples.find(
        (sample) =>
          sample.name === 'tenantplane_job_runs_total' &&
          sample.labels.queue === MIGRATION_RUN_QUEUE &&
          sample.labels.state === 'completed',
      );
      expect(runs?.value).to.equal(2);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });
});
