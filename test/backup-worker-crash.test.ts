import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { verifyBackup } from '../src/backup/backup-reader.js';
import { BACKUP_SCHEDULE_QUEUE } from '../src/backup/schedules/schedule-tick.js';
import type { BullJobQueue } from '../src/jobs/bullmq-job-queue.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { addManagedServer } from './support/managed-admin.js';
import { adminQuery, TEST_ACTOR, type TestPlane } from './support/test-plane.js';
import { openWorkerPlane, type WorkerPlane } from './support/worker-plane.js';

/** Rows of the tenant's backup: enough that its upload is caught under way. */
const ROWS = 60_000;
/** The tier's cadence: slots keep passing while the killed backup waits for BullMQ to take it for stalled. */
const EVERY_SECONDS = 20;

interface RequestRow {
  id: string;
  idempotency_key: string;
  active: boolean;
  state: string | null;
  created_at: Date;
  finished_at: Date | null;
}

/**
 * A `tenantctl worker` SIGKILLed while it uploads a scheduled backup, on BullMQ with a managed-PostgreSQL
 * admin: nothing it leaves looks complete, the next worker redoes the backup under the same id once BullMQ
 * takes the job for stalled (its lock lapses after 30 s), and the slots that passed meanwhile make one
 * more backup, after it and not beside it.
 */
describe('a worker killed mid scheduled backup', function () {
  this.timeout(240000);
  let workerPlane: WorkerPlane;
  let plane: TestPlane<Tenantplane>;
  const startWorker = () => workerPlane.startWorker();
  const filesInStore = () => workerPlane.backupFiles('heavy');
  const requests = (): Promise<RequestRow[]> =>
    plane.tp
      .knex('backup_requests')
      .where({ tenant_id: 'heavy', kind: 'backup' })
      .orderBy('created_at')
      .select('id', 'idempotency_key', 'active', 'state', 'created_at', 'finished_at');
  async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 120000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
      await sleep(50);
    }
  }

  before(async () => {
    workerPlane = await openWorkerPlane('crash');
    plane = workerPlane.plane;
    await addManagedServer(plane, 'pg-main');
    await plane.tp.tenants.create({ id: 'heavy', tier: 'enterprise' }, TEST_ACTOR);
    await adminQuery(
      `${plane.prefix}_t_heavy`,
      `INSERT INTO audit_events (tenant_id, actor, action, details)
       SELECT 'heavy', 'seed', 'action-' || i, jsonb_build_object('i', i, 'pad', repeat(md5(i::text), 8))
         FROM generate_series(1, ${ROWS}) i`,
    );
  });
  after(async () => {
    await workerPlane?.close();
  });

  it('leaves nothing half-done, redoes the backup on the next worker, and backs up the next slot once', async () => {
    const first = startWorker();
    const queue = plane.tp.jobs as BullJobQueue;
    await until('the worker', async () =>
      (await queue.workerCount(BACKUP_SCHEDULE_QUEUE)) > 0 ? true : undefined,
    );
    await plane.tp.backups.schedules.set(
      {
        tier: 'enterprise',
        everySeconds: EVERY_SECONDS,
        keepCount: 5,
        keepDays: null,
        drillEverySeconds: null,
      },
      TEST_ACTOR,
    );
    // Set a day ago as far as the catalog knows: the tenant's latest slot is due now.
    await plane.tp
      .knex('backup_schedules')
      .update({ updated_at: plane.tp.knex.raw("now() - interval '1 day'") });
    await until('the upload under way', async () =>
      (await filesInStore()).some((file) => file.endsWith('.partial')) ? true : undefined,
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    const deps = plane.tp.backups.deps;
    const [killed] = await requests();
    expect(killed, 'the scheduled request').to.include({ active: true, state: null });
    expect(killed!.idempotency_key).to.match(/^schedule-\d+$/);
    expect((await deps.backups.list('heavy')).map((backup) => [backup.id, backup.state])).to.deep.equal([
      [killed!.id, 'pending'],
    ]);
    expect(await plane.tp.objectStore.list('backups/heavy/')).to.deep.equal([]);

    // The next worker takes the stalled job over and finishes it under the same backup id; meanwhile the
    // slots that pass start nothing, since the tenant's backup is under way.
    startWorker();
    await until('the killed backup redone', async () => {
      const [row] = await requests();
      return row?.active === false ? row : undefined;
    });
    const afterRedo = await requests();
    expect(afterRedo[0]).to.include({ id: killed!.id, state: 'completed' });
    // The slots missed meanwhile are one slot: one more backup, started after the first one ended.
    const next = await until('the next slot', async () => (await requests())[1]);
    await plane.tp.backups.schedules.clear('enterprise', TEST_ACTOR);
    await until('every backup finished', async () =>
      (await requests()).every((row) => !row.active) ? true : undefined,
    );

    const all = await requests();
    expect(all.map((row) => row.state)).to.deep.equal(['completed', 'completed']);
    expect(all[1]!.id).to.equal(next.id);
    expect(all[1]!.idempotency_key).to.not.equal(all[0]!.idempotency_key);
    expect(
      all[1]!.created_at >= all[0]!.finished_at!,
      'the next backup started after the redone one ended',
    ).to.equal(true);
    // Every backup row is complete and reads through whole; the store holds their objects and no other.
    const backups = await deps.backups.list('heavy');
    expect(backups.map((backup) => [backup.id, backup.state]).sort()).to.deep.equal(
      all.map((row) => [row.id, 'complete']).sort(),
    );
    for (const backup of backups) {
      expect((await verifyBackup(deps, 'heavy', backup.id)).tables.audit_events).to.equal(ROWS);
    }
    const listed = await plane.tp.objectStore.list('backups/heavy/');
    expect(listed.map((object) => object.key).sort()).to.deep.equal(
      backups.map((backup) => backup.objectKey).sort(),
    );
    // Once per backup in the audit log, however many deliveries ran it.
    const audited = await plane.tp
      .knex('audit_log')
      .where({ tenant_id: 'heavy', action: 'tenant.backup' })
      .count();
    expect(audited).to.deep.equal([{ count: '2' }]);
    // The killed upload's temporary file is all that is left of it: hidden, never listed as an object.
    const leftovers = (await filesInStore()).filter((file) => file.endsWith('.partial'));
    expect(leftovers.every((file) => file.startsWith('.'))).to.equal(true);
  });
});
