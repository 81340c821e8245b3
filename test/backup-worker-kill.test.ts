import { expect } from 'chai';
import { BACKUP_QUEUE } from '../src/backup/backup-jobs.js';
import { requestBackup } from '../src/backup/backup-operations.js';
import { verifyBackup } from '../src/backup/backup-reader.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { tenantQuery } from './support/tenant-rows.js';
import { TEST_ACTOR, type TestPlane } from './support/test-plane.js';
import { openWorkerPlane, type WorkerPlane } from './support/worker-plane.js';

const ROWS = 150_000;

describe('a backup worker killed mid-upload', function () {
  this.timeout(180000);
  let workerPlane: WorkerPlane;
  let plane: TestPlane<Tenantplane>;
  const startWorker = () => workerPlane.startWorker();
  const filesInStore = () => workerPlane.backupFiles('heavy');

  before(async () => {
    workerPlane = await openWorkerPlane('kill');
    plane = workerPlane.plane;
    await plane.addServer();
    await plane.tp.tenants.create({ id: 'heavy', tier: 'enterprise' }, TEST_ACTOR);
    await tenantQuery(
      plane.tp,
      'heavy',
      `INSERT INTO audit_events (tenant_id, actor, action, details)
       SELECT 'heavy', 'seed', 'action-' || i, jsonb_build_object('i', i, 'pad', repeat(md5(i::text), 8))
         FROM generate_series(1, $1) i`,
      [ROWS],
    );
  });
  after(async () => {
    await workerPlane?.close();
  });

  it('leaves nothing that looks complete, and the retry on another worker finishes the backup', async () => {
    const first = startWorker();
    const queued = await requestBackup(plane.tp.backups, 'heavy', { actor: TEST_ACTOR });
    // Wait until the upload is under way: the store's temporary file exists.
    for (let i = 0; i < 3000; i += 1) {
      if ((await filesInStore()).some((file) => file.endsWith('.partial'))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await filesInStore()).some((file) => file.endsWith('.partial'))).to.equal(true);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    const deps = plane.tp.backups.deps;
    const [pending] = await deps.backups.list('heavy');
    expect(pending?.state).to.equal('pending');
    expect(await plane.tp.objectStore.list('backups/heavy/')).to.deep.equal([]);

    startWorker();
    const result = (await plane.tp.jobs.wait(BACKUP_QUEUE, queued.jobId)) as { id: string; state: string };
    expect(result.state).to.equal('complete');
    const backups = await deps.backups.list('heavy');
    expect(backups.map((backup) => [backup.id, backup.state])).to.deep.equal([
      [queued.requestId, 'complete'],
    ]);
    const listed = await plane.tp.objectStore.list('backups/heavy/');
    expect(listed.map((object) => object.key)).to.deep.equal([backups[0]!.objectKey]);
    const verified = await verifyBackup(deps, 'heavy', queued.requestId);
    expect(verified.tables.audit_events).to.equal(ROWS);
  });
});
