import { expect } from 'chai';
import { runScheduleTick } from '../src/backup/schedules/schedule-tick.js';
import { addManagedServer } from './support/managed-admin.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/**
 * Without REDIS_URL the serving plane runs the schedules itself: a plane as `tenantctl serve` opens it, its
 * schedules set through the admin API, over a managed-PostgreSQL admin (no superuser).
 */
describe('backup schedules run by the serving process (no Redis)', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let admin: string;

  const call = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${base}/admin/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const completeBackups = async () =>
    (await plane.tp.knex('backups').where({ state: 'complete' }).orderBy('created_at')).map((row) => ({
      tenant: row.tenant_id as string,
      id: row.id as string,
    }));

  before(async () => {
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-s', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of ['sched-a', 'sched-b']) await plane.tp.tenants.create({ id, tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'unscheduled', tier: 'starter' }, TEST_ACTOR);
    base = await plane.listen();
    admin = await plane.mint({ admin: true });
  });
  after(async () => plane.close());

  it('refuses a bad schedule with a code', async () => {
    const bad = await call('PUT', '/backup-schedules/pro', { every: '5 minutes', keep: 2 });
    expect([bad.status, bad.body.error.code]).to.deep.equal([400, 'invalid_duration']);
    const noKeep = await call('PUT', '/backup-schedules/pro', { every: '5s' });
    expect([noKeep.status, noKeep.body.error.code]).to.deep.equal([400, 'missing_field']);
    const zero = await call('PUT', '/backup-schedules/pro', { every: '5s', keep: 0 });
    expect([zero.status, zero.body.error.code]).to.deep.equal([400, 'invalid_field']);
    const extra = await call('PUT', '/backup-schedules/pro', { every: '5s', keep: 1, often: true });
    expect([extra.status, extra.body.error.code]).to.deep.equal([400, 'unknown_field']);
    const tier = await call('PUT', '/backup-schedules/gold', { every: '5s', keep: 1 });
    expect([tier.status, tier.body.error.code]).to.deep.equal([404, 'unknown_tier']);
    const none = await call('DELETE', '/backup-schedules/pro');
    expect([none.status, none.body.error.code]).to.deep.equal([404, 'schedule_not_found']);
  });

  it('backs up every tenant of a 5-second tier on its cadence and no other, keeping the newest', async () => {
    const set = await call('PUT', '/backup-schedules/pro', { every: '5s', keep: 1 });
    expect(set.status).to.equal(200);
    expect(set.body).to.include({ tier: 'pro', every: '5s', every_seconds: 5, keep: 1, keep_days: null });
    expect(
      (await call('GET', '/backup-schedules')).body.data.map((s: { tier: string }) => s.tier),
    ).to.deep.equal(['pro']);

    // Two slots each: the first within one period of the schedule, then one a period later.
    const deadline = Date.now() + 30000;
    const taken = async () =>
      plane.tp
        .knex('audit_log')
        .where({ action: 'tenant.backup' })
        .groupBy('tenant_id')
        .select('tenant_id', plane.tp.knex.raw('count(*)::int AS n'));
    const pruned = () =>
      plane.tp.knex('audit_log').where({ action: 'tenant.backup.prune' }).distinct().pluck('tenant_id');
    let counts: Array<{ tenant_id: string; n: number }> = [];
    while (Date.now() < deadline) {
      counts = await taken();
      if (counts.length === 2 && counts.every((row) => row.n >= 2) && (await pruned()).length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(counts.map((row) => row.tenant_id).sort()).to.deep.equal(['sched-a', 'sched-b']);
    expect(
      counts.every((row) => row.n >= 2),
      JSON.stringify(counts),
    ).to.equal(true);

    // One slot, one backup: taken 5 s apart, never two of one tenant at once.
    const requests = await plane.tp
      .knex('backup_requests')
      .where({ kind: 'backup' })
      .orderBy('created_at')
      .select('tenant_id', 'idempotency_key', 'created_at', 'finished_at');
    for (const tenant of ['sched-a', 'sched-b']) {
      const mine = requests.filter((request) => request.tenant_id === tenant);
      const slots = mine.map((request) => Number(request.idempotency_key.replace('schedule-', '')));
      expect(new Set(slots).size).to.equal(slots.length);
      // Consecutive slots of one tenant are one period apart (or whole periods, on a slow machine).
      for (let i = 1; i < slots.length; i += 1) {
        expect((slots[i]! - slots[i - 1]!) % 5).to.equal(0);
        expect(slots[i]! - slots[i - 1]!).to.be.at.least(5);
      }
      for (let i = 1; i < mine.length; i += 1) {
        if (mine[i - 1]!.finished_at) expect(mine[i]!.created_at >= mine[i - 1]!.finished_at).to.equal(true);
      }
    }
    // Retention ran after each backup: only the newest is kept, and the starter tenant has none.
    const kept = await completeBackups();
    expect(kept.filter((backup) => backup.tenant === 'unscheduled')).to.deep.equal([]);
    for (const tenant of ['sched-a', 'sched-b']) {
      expect(kept.filter((backup) => backup.tenant === tenant).length).to.be.within(1, 2);
    }
    expect((await pruned()).sort()).to.deep.equal(['sched-a', 'sched-b']);

    // Cleared: a tick (the plane's own runs beside this one: the first to get the lock) starts nothing.
    const cleared = await call('DELETE', '/backup-schedules/pro');
    expect(cleared.status).to.equal(204);
    await plane.tp
      .knex('backup_schedule_runs')
      .update({ last_started_at: plane.tp.knex.raw("now() - interval '1 hour'") });
    let result = await runScheduleTick(plane.tp);
    while (!result.ran) result = await runScheduleTick(plane.tp);
    expect(result.started).to.deep.equal([]);
    const audit = await plane.tp.knex('audit_log').whereLike('action', 'backup_schedule.%').pluck('action');
    expect(audit).to.deep.equal(['backup_schedule.set', 'backup_schedule.clear']);
  });

  it('holds and releases a backup through the admin API', async () => {
    const [backup] = await completeBackups();
    const held = await call('POST', `/tenants/${backup!.tenant}/backups/${backup!.id}/hold`);
    expect([held.status, held.body.held]).to.deep.equal([200, true]);
    const listed = await call('GET', `/tenants/${backup!.tenant}/backups`);
    expect(listed.body.data.find((row: { id: string }) => row.id === backup!.id).held).to.equal(true);
    const foreign = await call('POST', `/tenants/unscheduled/backups/${backup!.id}/hold`);
    expect([foreign.status, foreign.body.error.code]).to.deep.equal([404, 'backup_not_found']);
    const released = await call('POST', `/tenants/${backup!.tenant}/backups/${backup!.id}/release`);
    expect([released.status, released.body.held]).to.deep.equal([200, false]);
    const actions = await plane.tp
      .knex('audit_log')
      .whereIn('action', ['tenant.backup.hold', 'tenant.backup.release'])
      .pluck('action');
    expect(actions).to.deep.equal(['tenant.backup.hold', 'tenant.backup.release']);
  });
});
