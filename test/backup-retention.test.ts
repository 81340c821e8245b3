import { expect } from 'chai';
import { BACKUP_QUEUE } from '../src/backup/backup-jobs.js';
import { requestBackup } from '../src/backup/backup-operations.js';
import { pruneBackups } from '../src/backup/retention/backup-retention.js';
import { setBackupHold } from '../src/backup/retention/legal-holds.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { rejection } from './support/async-helpers.js';
import { addManagedServer } from './support/managed-admin.js';
import { type Moto, startMoto } from './support/moto.js';
import { seedTenantRows } from './support/tenant-rows.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/**
 * Retention on S3 and KMS (moto), over a managed-PostgreSQL admin (no superuser), on a plane that runs no
 * schedule tick: each prune here is the one the test asks for, or the one after a backup.
 */
describe('backup retention: prune, legal holds, crash recovery', function () {
  this.timeout(90000);
  let moto: Moto;
  let undoEnv: () => void;
  let plane: TestPlane<Tenantplane>;
  let env: Record<string, string>;

  const backupOf = async (tenantId: string) => {
    const queued = await requestBackup(plane.tp.backups, tenantId, { actor: TEST_ACTOR });
    await plane.tp.jobs.wait(BACKUP_QUEUE, queued.jobId);
    return queued.requestId;
  };
  const rows = async (tenantId: string) =>
    (await plane.tp.knex('backups').where({ tenant_id: tenantId }).orderBy('created_at')).map(
      (row) => `${row.id}:${row.state}${row.held ? ':held' : ''}`,
    );
  const stored = async (tenantId: string) =>
    (await plane.tp.objectStore.list(`backups/${tenantId}/`)).map((object) => object.key).sort();
  const objectOf = (tenantId: string, backupId: string) => `backups/${tenantId}/${backupId}.tpbk`;
  const prune = (dryRun = false) =>
    pruneBackups(
      { knex: plane.tp.knex, store: plane.tp.objectStore, logger: plane.tp.logger },
      { dryRun, actor: TEST_ACTOR },
    );
  const schedule = (keepCount: number, keepDays: number | null = null) =>
    plane.tp.backups.schedules.set(
      { tier: 'pro', everySeconds: 86400, keepCount, keepDays, drillEverySeconds: null },
      TEST_ACTOR,
    );
  const ageBy = (backupId: string, days: number) =>
    plane.tp
      .knex('backups')
      .where({ id: backupId })
      .update({ created_at: plane.tp.knex.raw(`now() - interval '${days} days'`) });

  before(async () => {
    moto = await startMoto();
    undoEnv = moto.applyEnv();
    const bucket = await moto.createBucket();
    const keyId = await moto.createKmsKey();
    env = { ...moto.env, BACKUP_URL: `s3://${bucket}/tp`, KMS_KEY_ID: keyId };
    plane = await createTestPlane({ serveTraffic: false }, env);
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-r', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'keepco', tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'otherco', tier: 'starter' }, TEST_ACTOR);
    await seedTenantRows(plane.tp, 'keepco', 5);
  });
  after(async () => {
    await plane.close();
    undoEnv();
  });

  it('deletes exactly the backups past the newest N, never a held one; a dry run changes nothing', async () => {
    const [b1, b2, b3, b4] = [
      await backupOf('keepco'),
      await backupOf('keepco'),
      await backupOf('keepco'),
      await backupOf('keepco'),
    ];
    const others = [await backupOf('otherco'), await backupOf('otherco'), await backupOf('otherco')];
    await setBackupHold(plane.tp.backups.deps, 'keepco', b1!, true, TEST_ACTOR);
    await schedule(2);

    const rowsBefore = await rows('keepco');
    const objectsBefore = await stored('keepco');
    expect(objectsBefore).to.have.length(4);
    const dry = await prune(true);
    expect(dry.pruned.map((backup) => [backup.backupId, backup.reason])).to.deep.equal([[b2, 'count']]);
    expect(await rows('keepco')).to.deep.equal(rowsBefore);
    expect(await stored('keepco')).to.deep.equal(objectsBefore);

    const done = await prune();
    expect(done.pruned.map((backup) => backup.backupId)).to.deep.equal([b2]);
    expect(await rows('keepco')).to.deep.equal([`${b1}:complete:held`, `${b3}:complete`, `${b4}:complete`]);
    expect(await stored('keepco')).to.deep.equal([b1, b3, b4].map((id) => objectOf('keepco', id!)).sort());
    // A tier without a schedule keeps everything.
    expect((await rows('otherco')).length).to.equal(others.length);
    const audited = await plane.tp.knex('audit_log').where({ action: 'tenant.backup.prune' }).first();
    expect(audited.details).to.include({ backupId: b2, reason: 'count' });

    // Released, the old backup goes with the next prune.
    await setBackupHold(plane.tp.backups.deps, 'keepco', b1!, false, TEST_ACTOR);
    expect((await prune()).pruned.map((backup) => backup.backupId)).to.deep.equal([b1]);
    expect(await rows('keepco')).to.deep.equal([`${b3}:complete`, `${b4}:complete`]);
  });

  it('deletes backups older than keep_days, never the newest complete one, and prunes after a backup', async () => {
    await schedule(10, 1);
    const [b3, b4] = (await rows('keepco')).map((row) => row.split(':')[0]!);
    await ageBy(b3!, 3);
    expect((await prune()).pruned.map((backup) => [backup.backupId, backup.reason])).to.deep.equal([
      [b3, 'age'],
    ]);
    await ageBy(b4!, 5);
    expect((await prune()).pruned).to.deep.equal([]);
    expect(await rows('keepco')).to.deep.equal([`${b4}:complete`]);

    // A newer backup makes the old one expendable, and the backup job applies retention itself.
    const b5 = await backupOf('keepco');
    expect(await rows('keepco')).to.deep.equal([`${b5}:complete`]);
    expect(await stored('keepco')).to.deep.equal([objectOf('keepco', b5)]);
  });

  it('finishes a prune that crashed between the object and the row, whichever was left', async () => {
    await schedule(10);
    const kept = (await rows('keepco')).map((row) => row.split(':')[0]!);
    const objectLeft = await backupOf('keepco');
    const objectGone = await backupOf('keepco');
    const newest = await backupOf('keepco');
    // Crashed after marking the row: the object is still there. Crashed after deleting the object: not.
    await plane.tp.knex('backups').whereIn('id', [objectLeft, objectGone]).update({ state: 'deleting' });
    await plane.tp.objectStore.delete(objectOf('keepco', objectGone));
    // A backup being deleted can neither be restored nor put under a hold.
    const refused = await rejection<TenantplaneError>(
      setBackupHold(plane.tp.backups.deps, 'keepco', objectLeft, true, TEST_ACTOR),
    );
    expect(refused.code).to.equal('backup_not_complete');

    const done = await prune();
    expect(done.pruned.map((backup) => [backup.backupId, backup.reason]).sort()).to.deep.equal(
      [
        [objectGone, 'unfinished'],
        [objectLeft, 'unfinished'],
      ].sort(),
    );
    expect(done.failed).to.deep.equal([]);
    expect(await rows('keepco')).to.deep.equal([...kept, newest].map((id) => `${id}:complete`));
    expect(await stored('keepco')).to.deep.equal(
      [...kept, newest].map((id) => objectOf('keepco', id)).sort(),
    );
  });

  it('tenantctl backups schedule set, hold, prune --dry-run and list', async () => {
    const cli = (...args: string[]) => runTenantctl(plane.cliEnv(env), ...args);
    await backupOf('keepco');
    await backupOf('keepco');
    const before = await rows('keepco');
    const oldest = before[0]!.split(':')[0]!;
    const [bad, set] = await Promise.all([
      cli('backups', 'schedule', 'set', '--tier', 'pro', '--every', '5x', '--keep', '2'),
      cli('backups', 'schedule', 'set', '--tier', 'pro', '--every', '6h', '--keep', '1', '--json'),
    ]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('invalid_duration');
    expect(set.code, set.stderr).to.equal(0);
    expect(JSON.parse(set.stdout)).to.include({ tier: 'pro', every: '6h', every_seconds: 21600, keep: 1 });

    const hold = await cli('backups', 'hold', 'keepco', oldest);
    expect(hold.code, hold.stderr).to.equal(0);
    const [dry, list] = await Promise.all([
      cli('backups', 'prune', '--dry-run', '--json'),
      cli('backups', 'list', 'keepco', '--json'),
    ]);
    expect(dry.code, dry.stderr).to.equal(0);
    const wouldDelete = JSON.parse(dry.stdout).would_delete as Array<{ backup_id: string }>;
    expect(wouldDelete.map((backup) => backup.backup_id)).to.deep.equal(
      before.slice(1, -1).map((row) => row.split(':')[0]),
    );
    expect(await rows('keepco')).to.deep.equal([`${before[0]}:held`, ...before.slice(1)]);
    const listed = JSON.parse(list.stdout) as Array<{ id: string; held: boolean }>;
    expect(listed.filter((backup) => backup.held).map((backup) => backup.id)).to.deep.equal([oldest]);

    await setBackupHold(plane.tp.backups.deps, 'keepco', oldest, false, TEST_ACTOR);
    expect((await prune()).pruned).to.have.length(before.length - 1);
    expect(await rows('keepco')).to.deep.equal(before.slice(-1));
  });
});
