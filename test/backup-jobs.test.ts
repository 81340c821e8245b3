import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { BACKUP_QUEUE } from '../src/backup/backup-jobs.js';
import { requestBackup, requestRestore } from '../src/backup/backup-operations.js';
import { verifyBackup } from '../src/backup/backup-reader.js';
import type { TenantplaneError } from '../src/errors/index.js';
import { checkRedisEvictionPolicy } from '../src/jobs/redis-eviction-policy.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { rejection } from './support/async-helpers.js';
import { startMoto } from './support/moto.js';
import { seedTenantRows, tenantQuery, tenantRows } from './support/tenant-rows.js';
import { copyOfTenantMigrations, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('backup jobs', function () {
  this.timeout(90000);

  describe('inline, with the HTTP API', () => {
    let plane: TestPlane;
    let migrationsDir: string;
    let base: string;
    let admin: string;

    before(async () => {
      migrationsDir = await copyOfTenantMigrations();
      plane = await createTestPlane({ tenantMigrationsDir: migrationsDir });
      await plane.addServer();
      await plane.tp.shards.add({ id: 'shard-j', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'jobco', tier: 'pro' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'bigco', tier: 'enterprise' }, TEST_ACTOR);
      await seedTenantRows(plane.tp, 'jobco', 20);
      await seedTenantRows(plane.tp, 'bigco', 20);
      base = await plane.listen();
      admin = await plane.mint({ admin: true });
    });
    after(async () => plane.close());

    const post = async (route: string, body: unknown, headers: Record<string, string> = {}) => {
      const response = await fetch(`${base}/admin/v1${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const job = async (id: unknown) => {
      for (let attempt = 0; attempt < 300; attempt += 1) {
        const response = await fetch(`${base}/admin/v1/jobs/${id}`, {
          headers: { authorization: `Bearer ${admin}` },
        });
        const body = (await response.json()) as {
          state: string;
          result: Record<string, unknown>;
          progress: { tables?: Record<string, { rows: number; bytes: number }> };
        };
        if (body.state === 'completed' || body.state === 'failed') return body;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`job ${id} did not finish`);
    };

    it('backs up and restores through the admin API, one job for the same request twice', async () => {
      const [first, second] = await Promise.all([
        post('/tenants/jobco/backups', {}),
        post('/tenants/jobco/backups', {}),
      ]);
      expect(first.status).to.equal(202);
      expect(second.body.job_id).to.equal(first.body.job_id);
      const done = await job(first.body.job_id);
      expect(done.state).to.equal('completed');
      expect(done.result.state).to.equal('complete');
      expect(done.progress.tables?.users?.rows).to.equal(20);
      expect(done.progress.tables?.users?.bytes).to.be.greaterThan(0);
      const list = await fetch(`${base}/admin/v1/tenants/jobco/backups`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      const backups = ((await list.json()) as { data: Array<{ id: string; state: string }> }).data;
      expect(backups.map((backup) => backup.state)).to.deep.equal(['complete']);

      const keyed = await post('/tenants/jobco/backups', {}, { 'idempotency-key': 'nightly-1' });
      const again = await post('/tenants/jobco/backups', {}, { 'idempotency-key': 'nightly-1' });
      expect(keyed.body.job_id).to.not.equal(first.body.job_id);
      expect(again.body.job_id).to.equal(keyed.body.job_id);
      await job(keyed.body.job_id);

      const before = await tenantRows(plane.tp, 'jobco');
      await tenantQuery(plane.tp, 'jobco', "DELETE FROM users WHERE tenant_id = 'jobco'");
      const restore = await post('/tenants/jobco/restores', { backup_id: backups[0]!.id });
      expect(restore.status).to.equal(202);
      expect((await job(restore.body.job_id)).state).to.equal('completed');
      expect(await tenantRows(plane.tp, 'jobco')).to.deep.equal(before);

      const audit = await plane.tp.knex('audit_log').where({ tenant_id: 'jobco' }).pluck('action');
      expect(audit).to.include.members(['tenant.backup.request', 'tenant.backup', 'tenant.restore']);
    });

    it('answers 404 for another tenant’s backup and 400 for a bad request', async () => {
      const backup = await requestBackup(plane.tp.backups, 'bigco', { actor: TEST_ACTOR });
      await plane.tp.jobs.wait(BACKUP_QUEUE, backup.jobId);
      const foreign = await post('/tenants/jobco/restores', { backup_id: backup.requestId });
      expect(foreign.status).to.equal(404);
      const bad = await post('/tenants/jobco/restores', { backup_id: backup.requestId, into: 'x' });
      expect(bad.status).to.equal(400);
      const exportJob = await post('/tenants/jobco/exports', {});
      expect(exportJob.status).to.equal(202);
      expect((await job(exportJob.body.job_id)).result.manifest_key).to.match(/^exports\/jobco\//);
    });

    it('migrates an older backup forward when the schema moved on since', async () => {
      const backup = await requestBackup(plane.tp.backups, 'bigco', { actor: TEST_ACTOR });
      await plane.tp.jobs.wait(BACKUP_QUEUE, backup.jobId);
      const before = await tenantRows(plane.tp, 'bigco');
      await writeFile(
        path.join(migrationsDir, '0003_deployment_region.sql'),
        "ALTER TABLE deployments ADD COLUMN region text NOT NULL DEFAULT 'eu';",
      );
      const run = await (await plane.tp.fleetRunner()).run({ direction: 'up', actor: 'test' });
      expect(run.status).to.equal('succeeded');
      await tenantQuery(plane.tp, 'bigco', "UPDATE deployments SET region = 'us' WHERE tenant_id = 'bigco'");
      await seedTenantRows(plane.tp, 'bigco', 2, 'later');

      const restore = await requestRestore(plane.tp.backups, 'bigco', {
        backupId: backup.requestId,
        actor: TEST_ACTOR,
      });
      const result = (await plane.tp.jobs.wait(restore.queue, restore.jobId)) as Record<string, unknown>;
      expect(result.migrated_forward).to.equal(true);
      const after = await tenantRows(plane.tp, 'bigco');
      const withRegion = before.deployments!.map((row) => JSON.parse(row) as Record<string, unknown>);
      const restored = after.deployments!.map((row) => JSON.parse(row) as Record<string, unknown>);
      expect(restored.map((row) => row.region)).to.deep.equal(withRegion.map(() => 'eu'));
      expect(restored.map(({ region: _region, ...rest }) => rest)).to.deep.equal(withRegion);
      expect(after.users).to.deep.equal(before.users);
      // The scratch database is gone.
      const scratch = await plane.tp.knex.raw('SELECT datname FROM pg_database WHERE datname LIKE ?', [
        `${plane.prefix}\\_x\\_%`,
      ]);
      expect(scratch.rows).to.deep.equal([]);
    });
  });

  describe('with KMS and S3 (moto)', () => {
    let plane: TestPlane<Tenantplane>;
    let undo: () => void;

    before(async () => {
      const moto = await startMoto();
      undo = moto.applyEnv();
      const bucket = await moto.createBucket();
      const keyId = await moto.createKmsKey();
      plane = await createTestPlane(
        { serveTraffic: false },
        { BACKUP_URL: `s3://${bucket}/backups`, KMS_KEY_ID: keyId },
      );
      await plane.addServer();
      await plane.tp.tenants.create({ id: 'cloudco', tier: 'enterprise' }, TEST_ACTOR);
      await seedTenantRows(plane.tp, 'cloudco', 300);
    });
    after(async () => {
      await plane.close();
      undo();
    });

    it('backs up to S3 under a KMS data key and restores from it', async () => {
      const before = await tenantRows(plane.tp, 'cloudco');
      const backup = await requestBackup(plane.tp.backups, 'cloudco', { actor: TEST_ACTOR });
      await plane.tp.jobs.wait(BACKUP_QUEUE, backup.jobId);
      const verified = await verifyBackup(plane.tp.backups.deps, 'cloudco', backup.requestId);
      expect(verified.tables.users).to.equal(300);
      await tenantQuery(plane.tp, 'cloudco', "DELETE FROM workflows WHERE tenant_id = 'cloudco'");
      const restore = await requestRestore(plane.tp.backups, 'cloudco', {
        backupId: backup.requestId,
        actor: TEST_ACTOR,
      });
      await plane.tp.jobs.wait(restore.queue, restore.jobId);
      expect(await tenantRows(plane.tp, 'cloudco')).to.deep.equal(before);
    });

    it('retries while KMS is unreachable and marks nothing complete', async () => {
      const previous = process.env.AWS_ENDPOINT_URL_KMS;
      // Nothing listens on the discard port: every KMS call fails to connect.
      process.env.AWS_ENDPOINT_URL_KMS = 'http://127.0.0.1:9';
      const dead = await createTestPlane(
        { serveTraffic: false },
        {
          BACKUP_URL: `file://${path.join(plane.dataDir, 'dead-kms-store')}`,
          KMS_KEY_ID: 'alias/unreachable',
        },
      );
      try {
        await dead.addServer();
        await dead.tp.tenants.create({ id: 'offline', tier: 'enterprise' }, TEST_ACTOR);
        await seedTenantRows(dead.tp, 'offline', 5);
        const backup = await requestBackup(dead.tp.backups, 'offline', { actor: TEST_ACTOR });
        const error = await rejection<TenantplaneError>(dead.tp.jobs.wait(BACKUP_QUEUE, backup.jobId));
        expect(error.code).to.equal('kms_unavailable');
        const snapshot = await dead.tp.jobs.get(BACKUP_QUEUE, backup.jobId);
        expect(snapshot?.attempts).to.equal(3);
        const rows = await dead.tp.backups.deps.backups.list('offline');
        expect(rows.map((row) => row.state)).to.deep.equal(['failed']);
        expect(await dead.tp.objectStore.list('backups/')).to.deep.equal([]);
        const refused = await rejection<TenantplaneError>(
          requestRestore(dead.tp.backups, 'offline', { backupId: backup.requestId, actor: TEST_ACTOR }),
        );
        expect(refused.code).to.equal('backup_not_complete');
      } finally {
        if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
        else process.env.AWS_ENDPOINT_URL_KMS = previous;
        await dead.close();
      }
    });
  });

  describe('Redis eviction policy', () => {
    it('refuses a Redis that may evict jobs in production, and accepts noeviction', async () => {
      const redis = new Redis(TEST_REDIS_URL);
      const [, original] = (await redis.config('GET', 'maxmemory-policy')) as string[];
      try {
        await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
        const error = await rejection<TenantplaneError>(
          checkRedisEvictionPolicy(TEST_REDIS_URL, { production: true }),
        );
        expect(error.code).to.equal('invalid_config');
        expect(error.message).to.contain('noeviction');
        expect(await checkRedisEvictionPolicy(TEST_REDIS_URL, { production: false })).to.equal('allkeys-lru');
        await redis.config('SET', 'maxmemory-policy', 'noeviction');
        expect(await checkRedisEvictionPolicy(TEST_REDIS_URL, { production: true })).to.equal('noeviction');
      } finally {
        await redis.config('SET', 'maxmemory-policy', original ?? 'noeviction');
        redis.disconnect();
      }
    });
  });
});
