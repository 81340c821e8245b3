import { expect } from 'chai';
import { BACKUP_SCHEDULE_QUEUE } from '../src/backup/schedules/schedule-tick.js';
import type { BullJobQueue } from '../src/jobs/bullmq-job-queue.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { TEST_ACTOR, type TestPlane } from './support/test-plane.js';
import { openWorkerPlane, type WorkerPlane } from './support/worker-plane.js';

const SCHEDULED = ['w-one', 'w-two', 'w-three', 'w-four'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two `tenantctl worker` processes on one Redis, as in production: both set the same BullMQ job scheduler,
 * and the ticks it fires go to either. The server's budget is 20 connections: 2 scheduled backups at once.
 */
describe('backup schedules on two BullMQ workers', function () {
  this.timeout(90000);
  let workerPlane: WorkerPlane;
  let plane: TestPlane<Tenantplane>;

  before(async () => {
    workerPlane = await openWorkerPlane('sched');
    plane = workerPlane.plane;
    await plane.addServer('pg-main', 20);
    await plane.tp.shards.add({ id: 'shard-w', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of SCHEDULED) await plane.tp.tenants.create({ id, tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'w-starter', tier: 'starter' }, TEST_ACTOR);
    for (let i = 0; i < 2; i += 1) workerPlane.startWorker(4);
    const queue = plane.tp.jobs as BullJobQueue;
    for (let i = 0; i < 400 && (await queue.workerCount(BACKUP_SCHEDULE_QUEUE)) < 2; i += 1) await sleep(100);
    expect(await queue.workerCount(BACKUP_SCHEDULE_QUEUE)).to.equal(2);
  });
  after(async () => {
    await workerPlane?.close();
  });

  it('backs up each tenant of the tier once per slot, never twice at once, within the budget', async () => {
    await plane.tp.backups.schedules.set(
      { tier: 'pro', everySeconds: 5, keepCount: 1, keepDays: null, drillEverySeconds: null },
      TEST_ACTOR,
    );
    const done = () =>
      plane.tp
        .knex('backup_requests')
        .where({ kind: 'backup', state: 'completed' })
        .groupBy('tenant_id')
        .select('tenant_id', plane.tp.knex.raw('count(*)::int AS n'));
    const deadline = Date.now() + 40000;
    let counts: Array<{ tenant_id: string; n: number }> = [];
    while (Date.now() < deadline) {
      counts = await done();
      if (counts.length === SCHEDULED.length && counts.every((row) => row.n >= 2)) break;
      await sleep(250);
    }
    expect(counts.map((row) => row.tenant_id).sort(), JSON.stringify(counts)).to.deep.equal(
      [...SCHEDULED].sort(),
    );
    expect(
      counts.every((row) => row.n >= 2),
      JSON.stringify(counts),
    ).to.equal(true);

    // Stop scheduling, and let what was started finish: nothing is left pending.
    await plane.tp.backups.schedules.clear('pro', TEST_ACTOR);
    for (let i = 0; i < 200; i += 1) {
      if (!(await plane.tp.knex('backup_requests').where({ active: true }).first())) break;
      await sleep(100);
    }
    expect(await plane.tp.knex('backup_requests').where({ active: true })).to.deep.equal([]);
    expect(await plane.tp.knex('backups').whereNot({ state: 'complete' })).to.deep.equal([]);

    const requests = await plane.tp
      .knex('backup_requests')
      .where({ kind: 'backup' })
      .orderBy('created_at')
      .select('tenant_id', 'idempotency_key', 'state', 'created_at', 'finished_at');
    expect(requests.every((request) => request.state === 'completed')).to.equal(true);
    expect(requests.some((request) => request.tenant_id === 'w-starter')).to.equal(false);
    for (const tenant of SCHEDULED) {
      const mine = requests.filter((request) => request.tenant_id === tenant);
      expect(new Set(mine.map((request) => request.idempotency_key)).size).to.equal(mine.length);
      for (let i = 1; i < mine.length; i += 1) {
        expect(mine[i]!.created_at >= mine[i - 1]!.finished_at, `${tenant} overlaps`).to.equal(true);
      }
      // One backup per request, however many workers and ticks: the audit log names each backup once.
      const backups = await plane.tp
        .knex('audit_log')
        .where({ tenant_id: tenant, action: 'tenant.backup' })
        .pluck('details');
      expect(backups.length).to.equal(mine.length);
      expect(
        await plane.tp.knex('backups').where({ tenant_id: tenant, state: 'complete' }).count(),
      ).to.deep.equal([{ count: '1' }]);
    }
    // At no moment more than two on the server: each start counts the requests active then.
    for (const request of requests) {
      const running = requests.filter(
        (other) => other.created_at <= request.created_at && other.finished_at > request.created_at,
      );
      expect(running.length, `at ${request.created_at.toISOString()}`).to.be.at.most(2);
    }
  });
});
