import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { BACKUP_QUEUE, backupJobHandlers, RESTORE_QUEUE } from '../src/backup/backup-jobs.js';
import { requestBackup } from '../src/backup/backup-operations.js';
import { type RunningWorkers, startWorkers } from '../src/jobs/bullmq-job-queue.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { callJson } from './support/http-client.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { seedTenantRows, tenantQuery } from './support/tenant-rows.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

interface JobView {
  id: string;
  state: string;
  progress: unknown;
  result: Record<string, unknown> | null;
  error: string | null;
}

for (const admin of ADMIN_KINDS) {
  describe(`an Idempotency-Key replayed after the queue forgot its job, with a ${admin.name}`, function () {
    this.timeout(120000);
    let plane: TestPlane;
    let token: string;
    let backupId: string;
    const servers: Server[] = [];
    let workers: RunningWorkers | undefined;

    const listen = async (tp: ServingTenantplane) => {
      const server = await tp.listen(0, '127.0.0.1');
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    };
    const restore = (base: string, key: string, body: Record<string, unknown> = { backup_id: backupId }) =>
      callJson(base, token, 'POST', '/admin/v1/tenants/replayco/restores', body, { 'idempotency-key': key });
    const jobStatus = (base: string, jobId: string) =>
      callJson(base, token, 'GET', `/admin/v1/jobs/${jobId}`);
    const finished = async (base: string, jobId: string): Promise<JobView> => {
      for (let attempt = 0; attempt < 600; attempt += 1) {
        const answer = await jobStatus(base, jobId);
        expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
        if (answer.body.state === 'completed' || answer.body.state === 'failed')
          return answer.body as JobView;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`job ${jobId} did not finish`);
    };
    /** A row written after the restore: a second run of the restore would take it away. */
    const writeLaterRow = (email: string) =>
      tenantQuery(
        plane.tp,
        'replayco',
        "INSERT INTO users (tenant_id, email, name) VALUES ($1, $2, 'Later')",
        ['replayco', email],
      );
    const laterRows = async (email: string) =>
      (await tenantQuery(plane.tp, 'replayco', 'SELECT id FROM users WHERE email = $1', [email])).rowCount;

    before(async () => {
      plane = await createTestPlane();
      await admin.register(plane);
      await plane.tp.shards.add({ id: 'shard-r', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'replayco', tier: 'starter' }, TEST_ACTOR);
      await seedTenantRows(plane.tp, 'replayco', 10);
      token = await plane.mint({ admin: true });
      const backup = await requestBackup(plane.tp.backups, 'replayco', { actor: TEST_ACTOR });
      await plane.tp.jobs.wait(BACKUP_QUEUE, backup.jobId);
      backupId = backup.requestId;
    });
    after(async () => {
      await workers?.close();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await plane?.close();
    });

    it('answers a replay after a restart of the inline queue with the first result, without restoring again', async () => {
      const base = await listen(plane.tp);
      const first = await restore(base, 'restore-inline');
      expect(first.status).to.equal(202);
      const done = await finished(base, first.body.job_id);
      expect(done.state).to.equal('completed');
      expect(done.result?.backup_id).to.equal(backupId);
      await writeLaterRow('later-inline@example.com');

      // Another process on the same catalog: its inline queue has never heard of the job.
      const restarted = await listen(await plane.openAnother());
      const replay = await restore(restarted, 'restore-inline');
      expect(replay.status).to.equal(202);
      expect(replay.body.job_id).to.equal(first.body.job_id);
      // Whatever a second run would do, it would have done by the time its job reads finished.
      const again = await finished(restarted, replay.body.job_id);
      expect(await laterRows('later-inline@example.com')).to.equal(1);
      expect(again.state).to.equal('completed');
      expect(again.result).to.deep.equal(done.result);
      const status = await jobStatus(restarted, first.body.job_id);
      expect(status.status).to.equal(200);
      expect(status.body).to.deep.include({ id: first.body.job_id, state: 'completed', error: null });
      expect(status.body.result).to.deep.equal(done.result);

      // The same key for another restore is still refused, however long ago the first one finished.
      const reused = await restore(restarted, 'restore-inline', {
        backup_id: backupId,
        into: 'replayco-copy',
        tier: 'starter',
      });
      expect(reused.status).to.equal(409);
      expect(reused.body.error.code).to.equal('idempotency_key_reused');
    });

    it('answers a replay after BullMQ removed the finished job with the first result, without restoring again', async () => {
      const jobsPrefix = `tpreplay${randomBytes(4).toString('hex')}`;
      const bull = await plane.openAnother({
        config: { ...plane.tp.config, redisUrl: TEST_REDIS_URL, jobs: 'redis' },
        jobsPrefix,
      });
      workers = startWorkers({
        redisUrl: TEST_REDIS_URL,
        prefix: jobsPrefix,
        handlers: backupJobHandlers(bull.backups),
        concurrency: 1,
        logger: bull.logger,
      });
      const base = await listen(bull);
      const first = await restore(base, 'restore-bull');
      expect(first.status).to.equal(202);
      const done = await finished(base, first.body.job_id);
      expect(done.state).to.equal('completed');
      await writeLaterRow('later-bull@example.com');

      // What BullMQ does to a finished job after a week.
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const queue = new Queue(RESTORE_QUEUE, { connection, prefix: jobsPrefix });
      try {
        await queue.remove(first.body.job_id);
        expect(await queue.getJob(first.body.job_id)).to.equal(undefined);
      } finally {
        await queue.close();
        connection.disconnect();
      }

      const replay = await restore(base, 'restore-bull');
      expect(replay.status).to.equal(202);
      expect(replay.body.job_id).to.equal(first.body.job_id);
      const again = await finished(base, replay.body.job_id);
      expect(await laterRows('later-bull@example.com')).to.equal(1);
      expect(await bull.jobs.get(RESTORE_QUEUE, first.body.job_id)).to.equal(undefined);
      expect(again.result).to.deep.equal(done.result);
      const status = await jobStatus(base, first.body.job_id);
      expect(status.status).to.equal(200);
      expect(status.body).to.deep.include({ id: first.body.job_id, state: 'completed', error: null });
      expect(status.body.result).to.deep.equal(done.result);
    });

    it('answers a replay of a restore that failed for good with its error, without trying again', async () => {
      const base = await listen(plane.tp);
      // A damaged backup object: every attempt fails, and the restore changes nothing.
      const file = path.join(plane.dataDir, 'backups', 'backups', 'replayco', `${backupId}.tpbk`);
      const intact = await readFile(file);
      const damaged = Buffer.from(intact);
      damaged[damaged.length - 20] = damaged[damaged.length - 20]! ^ 0xff;
      await writeFile(file, damaged);
      let first: JobView;
      let jobId: string;
      try {
        const request = await restore(base, 'restore-failed');
        expect(request.status).to.equal(202);
        jobId = request.body.job_id;
        first = await finished(base, jobId);
        expect(first.state).to.equal('failed');
        expect(first.error).to.be.a('string');
      } finally {
        await writeFile(file, intact);
      }
      await writeLaterRow('later-failed@example.com');

      // With the object repaired, a second run would now succeed and restore the backup.
      const restarted = await listen(await plane.openAnother());
      const replay = await restore(restarted, 'restore-failed');
      expect(replay.body.job_id).to.equal(jobId);
      const again = await finished(restarted, jobId);
      expect(again).to.deep.include({ id: jobId, state: 'failed', error: first.error, result: null });
      expect(await laterRows('later-failed@example.com')).to.equal(1);

      const cli = await runTenantctl(
        plane.cliEnv({ REDIS_URL: '', LOG_LEVEL: 'warn' }),
        ...['restore', 'replayco', '--backup', backupId, '--idempotency-key', 'restore-failed', '--json'],
      );
      expect(cli.code, cli.stderr).to.equal(1);
      expect(JSON.parse(cli.stdout)).to.deep.equal({
        error: { code: 'backup_corrupt', message: first.error },
      });
      expect(await laterRows('later-failed@example.com')).to.equal(1);
    });

    it('gives tenantctl’s replay in a new process the first result, without restoring again', async () => {
      const tenantctl = (...args: string[]) =>
        runTenantctl(plane.cliEnv({ REDIS_URL: '', LOG_LEVEL: 'warn' }), ...args);
      const args = [
        'restore',
        'replayco',
        '--backup',
        backupId,
        '--idempotency-key',
        'restore-cli',
        '--json',
      ];
      const first = await tenantctl(...args);
      expect(first.code, first.stderr).to.equal(0);
      await writeLaterRow('later-cli@example.com');

      const replay = await tenantctl(...args);
      expect(replay.code, replay.stderr).to.equal(0);
      expect(replay.stderr).to.match(/joined job restore\.replayco\.k/);
      expect(JSON.parse(replay.stdout)).to.deep.equal(JSON.parse(first.stdout));
      expect(await laterRows('later-cli@example.com')).to.equal(1);
    });
  });
}
