import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { deliverBackup } from '../src/backup/backup-delivery.js';
import { drillSlotsFor, withDrillSlot } from '../src/backup/drills/drill-slots.js';
import { drillBackup } from '../src/backup/drills/restore-drill.js';
import { RowDigest } from '../src/backup/drills/row-digest.js';
import { BackupHealth } from '../src/backup/monitoring/backup-health.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { callJson } from './support/http-client.js';
import { addManagedServer } from './support/managed-admin.js';
import { type Moto, startMoto } from './support/moto.js';
import { seedTenantRows } from './support/tenant-rows.js';
import { runTenantctl } from './support/tenantctl.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

interface Drill {
  id: string;
  passed: boolean;
  method: string;
  error: string | null;
  duration_ms: number;
  details: {
    tables: Record<string, { rows_expected: number; rows_found: number; ok: boolean; digest_found?: string }>;
    timings_ms: Record<string, number>;
    scratch_database: string;
    scratch_dropped: boolean;
    error_code?: string;
  };
}

describe('restore drills (S3 and KMS on moto, a managed-PostgreSQL admin)', function () {
  this.timeout(90000);
  let moto: Moto;
  let undoEnv: () => void;
  let bucket: string;
  let keyId: string;
  let plane: TestPlane<ServingTenantplane>;
  let base: string;
  let admin: string;

  const tenantctl = (...args: string[]) =>
    runTenantctl(
      plane.cliEnv({ ...moto.env, BACKUP_URL: `s3://${bucket}/tp`, KMS_KEY_ID: keyId, REDIS_URL: '' }),
      ...args,
    );
  const api = (method: string, path: string, body?: unknown) =>
    callJson(base, admin, method, `/admin/v1${path}`, body);

  before(async () => {
    moto = await startMoto();
    undoEnv = moto.applyEnv();
    bucket = await moto.createBucket();
    keyId = await moto.createKmsKey();
    plane = await createTestPlane({}, { BACKUP_URL: `s3://${bucket}/tp`, KMS_KEY_ID: keyId });
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-d', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'drillco', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'neighbour', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'dedico', tier: 'enterprise' }, TEST_ACTOR);
    await seedTenantRows(plane.tp, 'drillco', 40);
    await seedTenantRows(plane.tp, 'neighbour', 15);
    await seedTenantRows(plane.tp, 'dedico', 30);
    base = await plane.listen();
    admin = await plane.mint({ admin: true });
  });
  after(async () => {
    await plane?.close();
    undoEnv?.();
  });

  const backUp = async (tenantId: string): Promise<string> => {
    const queued = await api('POST', `/tenants/${tenantId}/backups`, {});
    expect(queued.status).to.equal(202);
    await plane.tp.jobs.wait('tenant-backup', queued.body.job_id);
    return queued.body.backup_id as string;
  };
  const drillByApi = async (tenantId: string, backupId: string): Promise<Drill> => {
    const queued = await api('POST', `/tenants/${tenantId}/backups/${backupId}/drills`, {});
    expect(queued.status, JSON.stringify(queued.body)).to.equal(202);
    expect(queued.body.backup_id).to.equal(backupId);
    for (let attempt = 0; attempt < 600; attempt += 1) {
      const job = await api('GET', `/jobs/${queued.body.job_id}`);
      if (job.body.state === 'completed') return job.body.result as Drill;
      expect(job.body.state).to.not.equal('failed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the drill job did not finish');
  };
  const databaseExists = async (name: string) =>
    (await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  const catalog = (sql: string, values: Array<string | number> = []) => plane.tp.knex.raw(sql, values);

  it('passes on a good backup, shard and dedicated, checking counts and digests; the list shows it', async () => {
    for (const tenantId of ['drillco', 'dedico']) {
      const backupId = await backUp(tenantId);
      const digests = await catalog('SELECT table_digests FROM backups WHERE id = ?', [backupId]);
      expect(Object.keys(digests.rows[0].table_digests)).to.include('users');
      const drill = await drillByApi(tenantId, backupId);
      expect(drill.passed, drill.error ?? '').to.equal(true);
      expect(drill.method).to.equal('counts_and_digests');
      expect(drill.details.tables.users).to.include({ rows_expected: tenantId === 'dedico' ? 30 : 40 });
      expect(Object.values(drill.details.tables).every((table) => table.ok)).to.equal(true);
      expect(drill.details.tables.users!.digest_found).to.match(/^rowsum64:[0-9a-f]{16}$/);
      expect(drill.details.timings_ms).to.include.keys('migrate', 'load', 'check', 'drop', 'total');
      expect(drill.details.scratch_dropped).to.equal(true);
      expect(await databaseExists(drill.details.scratch_database)).to.equal(false);

      const list = await api('GET', `/tenants/${tenantId}/backups`);
      const listed = list.body.data.find((backup: { id: string }) => backup.id === backupId);
      expect(listed.last_drill).to.include({ id: drill.id, passed: true, method: 'counts_and_digests' });
      expect(listed.last_drill.duration_ms).to.be.a('number');
      expect(listed.last_drill.finished_at).to.be.a('string');
    }
    const audited = await catalog(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'tenant.backup.drill' AND tenant_id = 'drillco'",
    );
    expect(audited.rows[0].n).to.equal(1);
  });

  it('fails on a corrupted object, recorded with the reason, and drops the scratch database', async () => {
    const backupId = await backUp('drillco');
    const key = `tp/backups/drillco/${backupId}.tpbk`;
    const object = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    // A byte inside the rows' frames: decryption fails part-way through the load.
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));

    const drill = await drillByApi('drillco', backupId);
    expect(drill.passed).to.equal(false);
    expect(drill.details.error_code).to.equal('backup_corrupt');
    expect(drill.error).to.be.a('string').and.not.empty;
    expect(drill.details.scratch_database).to.match(new RegExp(`^${plane.prefix}_x_`));
    expect(drill.details.scratch_dropped).to.equal(true);
    expect(await databaseExists(drill.details.scratch_database)).to.equal(false);
    const recorded = await catalog('SELECT passed, finished_at, details FROM backup_drills WHERE id = ?', [
      drill.id,
    ]);
    expect(recorded.rows[0].passed).to.equal(false);
    expect(recorded.rows[0].finished_at).to.be.instanceOf(Date);
    expect(recorded.rows[0].details.error).to.equal(drill.error);
    const leftovers = await adminQuery('postgres', 'SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${plane.prefix}\\_x\\_%`,
    ]);
    expect(leftovers.rows).to.deep.equal([]);
  });

  it('fails when a row count or a digest differs from the manifest; a backup without digests is checked by counts', async () => {
    const backupId = await backUp('neighbour');
    const manifest = await catalog('SELECT row_counts, table_digests FROM backups WHERE id = ?', [backupId]);
    const { row_counts: counts, table_digests: digests } = manifest.rows[0];

    await catalog('UPDATE backups SET row_counts = ? WHERE id = ?', [
      JSON.stringify({ ...counts, users: counts.users + 1 }),
      backupId,
    ]);
    const miscounted = await drillBackup(plane.tp.backups.deps, 'neighbour', backupId, TEST_ACTOR);
    expect(miscounted.passed).to.equal(false);
    expect(miscounted.details.error).to.match(/users/);
    expect(miscounted.details.scratch_dropped).to.equal(true);

    // The load itself checks counts against the backup's own records; a digest differs only in the manifest.
    await catalog('UPDATE backups SET row_counts = ?, table_digests = ? WHERE id = ?', [
      JSON.stringify(counts),
      JSON.stringify({ ...digests, deployments: 'rowsum64:0000000000000000' }),
      backupId,
    ]);
    const wrongDigest = await drillBackup(plane.tp.backups.deps, 'neighbour', backupId, TEST_ACTOR);
    expect(wrongDigest.passed).to.equal(false);
    expect(wrongDigest.details.error_code).to.equal('drill_mismatch');
    expect(wrongDigest.details.tables?.deployments).to.include({ ok: false, rows_found: 15 });
    expect(wrongDigest.details.tables?.users?.ok).to.equal(true);
    expect(await databaseExists(wrongDigest.details.scratch_database!)).to.equal(false);

    await catalog('UPDATE backups SET table_digests = NULL WHERE id = ?', [backupId]);
    const countsOnly = await drillBackup(plane.tp.backups.deps, 'neighbour', backupId, TEST_ACTOR);
    expect(countsOnly.passed).to.equal(true);
    expect(countsOnly.details.method).to.equal('counts');
    expect(countsOnly.details.tables?.users).to.not.have.property('digest_expected');
  });

  it('a retry that records an object an earlier attempt stored records the same digests', async () => {
    const backupId = await backUp('drillco');
    const recorded = await catalog('SELECT table_digests FROM backups WHERE id = ?', [backupId]);
    // As if the attempt that stored the object died before completing its row.
    await catalog("UPDATE backups SET state = 'pending', table_digests = NULL WHERE id = ?", [backupId]);
    const completed = await deliverBackup(plane.tp.backups.deps, 'drillco', backupId);
    expect(completed.state).to.equal('complete');
    const again = await catalog('SELECT table_digests FROM backups WHERE id = ?', [backupId]);
    expect(again.rows[0].table_digests).to.deep.equal(recorded.rows[0].table_digests);
    const drill = await drillBackup(plane.tp.backups.deps, 'drillco', backupId, TEST_ACTOR);
    expect(drill.passed, drill.details.error).to.equal(true);
    expect(drill.details.method).to.equal('counts_and_digests');
  });

  it('says so when a prune took the backup while it was drilled, and the failure counts for no tenant', async () => {
    const backupId = await backUp('neighbour');
    const deps = plane.tp.backups.deps;
    // The prune's order: the row is marked deleting, then the object goes, as the drill starts reading it.
    const pruning = {
      ...deps,
      store: {
        ...deps.store,
        location: deps.store.location,
        get: async (key: string) => {
          await catalog("UPDATE backups SET state = 'deleting' WHERE id = ?", [backupId]);
          await deps.store.delete(key);
          return deps.store.get(key);
        },
      },
    };
    const drill = await drillBackup(pruning, 'neighbour', backupId, TEST_ACTOR);
    expect(drill.passed).to.equal(false);
    expect(drill.details.error_code).to.equal('backup_pruned');
    expect(drill.details.scratch_dropped).to.equal(true);
    const failed = await new BackupHealth(plane.tp.knex).failedDrills();
    expect(failed.map((row) => row.backup_id)).to.not.include(backupId);
  });

  it('runs drills of one server within its slots, one at a time with one slot', async () => {
    expect(drillSlotsFor(40)).to.equal(2);
    expect(drillSlotsFor(5)).to.equal(1);
    let running = 0;
    let most = 0;
    const work = async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 300));
      running -= 1;
    };
    const control = plane.tp.controlDatabaseUrl;
    await Promise.all([1, 2, 3].map(() => withDrillSlot(control, 'pg-main', 1, 10000, work)));
    expect(most).to.equal(1);
    await Promise.all([1, 2].map(() => withDrillSlot(control, 'pg-main', 2, 10000, work)));
    expect(most).to.equal(2);
    // Nobody frees the one slot: the wait ends in 503.
    const blocked = withDrillSlot(
      control,
      'pg-main',
      1,
      10000,
      () => new Promise((r) => setTimeout(r, 1500)),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await withDrillSlot(control, 'pg-main', 1, 500, work).catch((caught: Error) => caught);
    await blocked;
    expect((error as { code?: string }).code).to.equal('unavailable');
  });

  it('digests rows in any order and however the chunks split them', () => {
    const rows = ['1\tacme\tAna\\t\n', '2\tacme\t\\N\n', '3\tacme\tBé ✓ a longer row\n'].map((row) =>
      Buffer.from(row),
    );
    const digest = (chunks: Buffer[]) => {
      const running = new RowDigest();
      for (const chunk of chunks) running.update(chunk);
      return running.digest();
    };
    const whole = digest([Buffer.concat(rows)]);
    expect(digest([Buffer.concat([rows[2]!, rows[0]!, rows[1]!])])).to.equal(whole);
    const joined = Buffer.concat(rows);
    for (let cut = 1; cut < joined.length; cut += 3) {
      expect(digest([joined.subarray(0, cut), joined.subarray(cut)])).to.equal(whole);
    }
    const changed = Buffer.from(joined);
    changed[5] = changed[5]! ^ 1;
    expect(digest([changed])).to.not.equal(whole);
    expect(digest([Buffer.concat([joined, rows[0]!])])).to.not.equal(whole);
    expect(() => digest([Buffer.from('no newline')])).to.throw(/middle of a row/);
  });

  it('tenantctl backups drill takes the newest complete backup and exits 1 when the drill fails', async () => {
    const newest = await backUp('dedico');
    const passed = await tenantctl('backups', 'drill', 'dedico', '--json');
    expect(passed.code, passed.stderr).to.equal(0);
    expect(JSON.parse(passed.stdout)).to.include({ backup_id: newest, passed: true });

    const list = await tenantctl('backups', 'list', 'dedico');
    expect(list.code, list.stderr).to.equal(0);
    const line = list.stdout.split('\n').find((row) => row.startsWith(newest));
    expect(line).to.match(/passed \d{4}-\d\d-\d\dT[\d:.]+Z \d+\.\ds/);

    await catalog('UPDATE backups SET row_counts = row_counts || \'{"users": 0}\' WHERE id = ?', [newest]);
    const failed = await tenantctl('backups', 'drill', 'dedico', newest);
    expect(failed.code).to.equal(1);
    expect(failed.stdout).to.match(/FAILED/);
    expect((await tenantctl('backups', 'drill', 'Not_A_Slug')).code).to.equal(2);
  });
});
