import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { BACKUP_QUEUE } from '../src/backup/backup-jobs.js';
import { backupScheduleHandlers } from '../src/backup/schedules/backup-scheduler.js';
import {
  BACKUP_SCHEDULE_QUEUE,
  runScheduleTick,
  SLOT_OFFSET_SQL,
  type TickData,
  type TickResult,
} from '../src/backup/schedules/schedule-tick.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

const TENANTS = ['t-one', 't-two', 't-three', 't-four', 't-five'];

/**
 * The scheduler's tick called by the test, on a plane that runs no tick of its own (it serves no traffic)
 * and runs the backups it starts inline. The server's budget is 20 connections: 2 scheduled backups at once.
 */
describe('backup schedule tick', function () {
  this.timeout(60000);
  let plane: TestPlane<Tenantplane>;

  const tick = (runner?: string) =>
    runScheduleTick({ backups: plane.tp.backups, jobs: plane.tp.jobs }, runner ? { runner } : {});
  const waitForRequests = async () => {
    const active = await plane.tp.knex('backup_requests').where({ active: true }).pluck('job_id');
    await Promise.all(active.map((jobId: string) => plane.tp.jobs.wait(BACKUP_QUEUE, jobId)));
  };
  const backupsPerTenant = async () =>
    Object.fromEntries(
      (
        await plane.tp
          .knex('backups')
          .where({ state: 'complete' })
          .groupBy('tenant_id')
          .select('tenant_id', plane.tp.knex.raw('count(*)::int AS n'))
      ).map((row: { tenant_id: string; n: number }) => [row.tenant_id, row.n]),
    );

  before(async () => {
    plane = await createTestPlane({ serveTraffic: false });
    await plane.addServer('pg-main', 20);
    await plane.tp.shards.add({ id: 'shard-t', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of TENANTS) await plane.tp.tenants.create({ id, tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'elsewhere', tier: 'starter' }, TEST_ACTOR);
  });
  after(async () => plane.close());

  it('runs a missed slot once per tenant, within the server’s budget, and only for the scheduled tier', async () => {
    await plane.tp.backups.schedules.set(
      { tier: 'pro', everySeconds: 3600, keepCount: 3, keepDays: null, drillEverySeconds: null },
      TEST_ACTOR,
    );
    // Every worker was down for five hours: five slots went by.
    await plane.tp.knex('backup_schedule_runs').insert(
      [...TENANTS, 'elsewhere'].map((id) => ({
        tenant_id: id,
        kind: 'backup',
        last_started_at: plane.tp.knex.raw("now() - interval '5 hours'"),
      })),
    );
    const started: string[][] = [];
    for (let round = 0; round < 4; round += 1) {
      const result = await tick();
      expect(result.ran).to.equal(true);
      started.push(result.started);
      // Two at once at most: the budget of 20 outside the routers' 80% share, one half for backups.
      expect(result.started.length).to.be.at.most(2);
      await waitForRequests();
    }
    expect(started.map((round) => round.length)).to.deep.equal([2, 2, 1, 0]);
    expect(started.flat().sort()).to.deep.equal([...TENANTS].sort());
    expect(await backupsPerTenant()).to.deep.equal(Object.fromEntries(TENANTS.map((id) => [id, 1])));
    expect((await tick()).started).to.deep.equal([]);

    // Each was a backup request like a manual one, compressed, keyed by its slot, made by the scheduler.
    const requests = await plane.tp.knex('backup_requests').where({ kind: 'backup' });
    expect(requests).to.have.length(TENANTS.length);
    for (const request of requests) {
      expect(request.idempotency_key).to.match(/^schedule-\d+$/);
      expect(request.params).to.deep.equal({ compress: true });
      expect(JSON.parse(request.actor).actor).to.equal('scheduler');
    }
  });

  it('takes over a scheduled backup whose process died, and leaves one a live process runs', async () => {
    const dead = randomUUID();
    const live = randomUUID();
    await plane.tp
      .knex('instances')
      .insert({ id: live, kind: 'serve', host: 'test', pid: 1, lease_ms: 60000 });
    const [deadRequest, liveRequest] = ['t-one', 't-two'].map((tenantId, index) => ({
      id: `orphan-${index}`,
      tenant_id: tenantId,
      kind: 'backup',
      job_id: `backup.${tenantId}.orphan-${index}`,
      params: JSON.stringify({ compress: true }),
      actor: JSON.stringify({ actor: `scheduler@${index === 0 ? dead : live}` }),
      active: true,
    }));
    await plane.tp.knex('backup_requests').insert([deadRequest, liveRequest]);
    // The dead process had begun: its backup is pending, as a killed job leaves it.
    await plane.tp.knex('backups').insert({
      id: 'orphan-0',
      tenant_id: 't-one',
      state: 'pending',
      object_key: 'backups/t-one/orphan-0.tpbk',
    });

    const me = randomUUID();
    const result = await tick(me);
    expect(result.requeued).to.deep.equal(['t-one']);
    await plane.tp.jobs.wait(BACKUP_QUEUE, deadRequest!.job_id);
    const finished = await plane.tp.knex('backup_requests').where({ id: 'orphan-0' }).first();
    expect(finished).to.include({ active: false, state: 'completed' });
    expect(JSON.parse(finished.actor).actor).to.equal(`scheduler@${me}`);
    expect(await plane.tp.knex('backups').where({ id: 'orphan-0' }).first()).to.include({
      state: 'complete',
    });
    // The live one is left to its process: not queued here, still active.
    expect(await plane.tp.jobs.get(BACKUP_QUEUE, liveRequest!.job_id)).to.equal(undefined);
    expect((await tick(me)).requeued).to.deep.equal([]);
    await plane.tp.knex('backup_requests').where({ id: 'orphan-1' }).delete();
  });

  it('queues a restore drill per tenant on the drill cadence, one at a time on a small server', async () => {
    const setDrills = (drillEverySeconds: number | null) =>
      plane.tp.backups.schedules.set(
        { tier: 'pro', everySeconds: 3600, keepCount: 3, keepDays: null, drillEverySeconds },
        TEST_ACTOR,
      );
    await setDrills(3600);
    await plane.tp.knex('backup_schedule_runs').insert(
      [...TENANTS, 'elsewhere'].map((id) => ({
        tenant_id: id,
        kind: 'drill',
        last_started_at: plane.tp.knex.raw("now() - interval '5 hours'"),
      })),
    );
    const drilled: string[] = [];
    for (let round = 0; round < 2; round += 1) {
      const result = await tick();
      // 20 connections hold one drill (2 connections each, in half the budget outside the routers').
      expect(result.drills).to.have.length(1);
      drilled.push(...result.drills);
      for (let i = 0; i < 300; i += 1) {
        const [{ count }] = await plane.tp.knex('backup_drills').whereNotNull('finished_at').count();
        if (count === String(round + 1)) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const drills = await plane.tp.knex('backup_drills').orderBy('id');
    expect(drills.map((drill) => drill.tenant_id)).to.deep.equal(drilled);
    expect(new Set(drilled).size).to.equal(2);
    expect(
      drills.map((drill) => drill.passed),
      JSON.stringify(drills.map((drill) => drill.details)),
    ).to.deep.equal([true, true]);
    // Without a drill cadence, no more.
    await setDrills(null);
    expect((await tick()).drills).to.deep.equal([]);
  });

  it('finishes an interrupted prune on the first tick of a process, and then hourly', async () => {
    const [backup] = await plane.tp.knex('backups').where({ tenant_id: 't-two', state: 'complete' });
    await plane.tp.knex('backups').where({ id: backup.id }).update({ state: 'deleting' });
    const handler = backupScheduleHandlers({ backups: plane.tp.backups, jobs: plane.tp.jobs })[
      BACKUP_SCHEDULE_QUEUE
    ] as (data: TickData) => Promise<TickResult>;
    expect((await handler({})).ran).to.equal(true);
    expect(await plane.tp.knex('backups').where({ id: backup.id }).first()).to.equal(undefined);
    expect(await plane.tp.objectStore.head(backup.object_key)).to.equal(undefined);
  });

  it('spreads 10,000 tenants over a day’s period: no minute holds more than a few dozen starts', async () => {
    const { rows } = await plane.tp.knex.raw(
      `SELECT floor(offset_s / 60) AS minute, count(*)::int AS n FROM (
         SELECT ${SLOT_OFFSET_SQL.replace(':id', "'tenant-' || i").replace(':every', '86400')} AS offset_s
           FROM generate_series(1, 10000) i) o
        GROUP BY 1`,
    );
    const perMinute = (rows as Array<{ n: number }>).map((row) => row.n);
    // 10,000 over 1,440 minutes is about 7 a minute.
    expect(perMinute.length).to.be.greaterThan(1400);
    expect(Math.max(...perMinute)).to.be.at.most(25);
  });
});
