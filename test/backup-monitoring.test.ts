import { expect } from 'chai';
import { requestBackup } from '../src/backup/backup-operations.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { callJson } from './support/http-client.js';
import { addManagedServer } from './support/managed-admin.js';
import { parseExposition } from './support/prometheus-text.js';
import { seedTenantRows } from './support/tenant-rows.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('backup monitoring: /metrics and tenantctl backups status', function () {
  this.timeout(60000);
  let plane: TestPlane<ServingTenantplane>;
  let base: string;

  const tenantctl = (...args: string[]) =>
    runTenantctl(plane.cliEnv({ REDIS_URL: '', LOG_LEVEL: 'warn' }), ...args);
  const catalog = (sql: string, values: Array<string | number> = []) => plane.tp.knex.raw(sql, values);

  before(async () => {
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-m', serverId: 'pg-main' }, TEST_ACTOR);
    for (const [id, tier] of [
      ['fresh', 'starter'],
      ['stale', 'starter'],
      ['unscheduled', 'pro'],
    ] as const) {
      await plane.tp.tenants.create({ id, tier }, TEST_ACTOR);
      await seedTenantRows(plane.tp, id, 5);
    }
    base = await plane.listen();
    // A request by `fresh` gives it a label of its own in the per-tenant series.
    const token = await plane.mint({ tenantId: 'fresh' });
    expect((await callJson(base, token, 'GET', '/api/v1/deployments')).status).to.equal(200);
  });
  after(async () => plane?.close());

  const backUp = async (tenantId: string) => {
    const queued = await requestBackup(plane.tp.backups, tenantId, { actor: TEST_ACTOR });
    return (await plane.tp.jobs.wait(queued.queue, queued.jobId)) as { id: string; size_bytes: number };
  };
  const scrape = async () => {
    const response = await fetch(`${base}/metrics`);
    const page = parseExposition(await response.text());
    expect(page.problems).to.deep.equal([]);
    const value = (name: string, labels: Record<string, string> = {}) =>
      page.samples.find(
        (sample) =>
          sample.name === name &&
          Object.keys(labels).every((key) => sample.labels[key] === labels[key]) &&
          Object.keys(sample.labels).length === Object.keys(labels).length,
      )?.value;
    return { page, value };
  };

  it('shows backup ages (bounded labels), overdue tenants, failed drills and bytes per tier', async () => {
    const fresh = await backUp('fresh');
    const unscheduled = await backUp('unscheduled');
    let metrics = await scrape();
    // No schedule yet: nobody is overdue.
    expect(metrics.value('tenantplane_backups_overdue')).to.equal(0);
    expect(metrics.value('tenantplane_backup_drills_failed')).to.equal(0);
    expect(metrics.value('tenantplane_tenant_last_backup_age_seconds', { tenant: 'fresh' }))
      .to.be.a('number')
      .and.below(60);
    // Only tenants labelled in the request counter have a label; the rest are one series.
    const ageLabels = metrics.page.samples
      .filter((sample) => sample.name === 'tenantplane_tenant_last_backup_age_seconds')
      .map((sample) => sample.labels.tenant);
    expect(ageLabels.sort()).to.deep.equal(['__other__', 'fresh']);
    expect(metrics.value('tenantplane_backup_stored_bytes', { tier: 'starter' })).to.equal(fresh.size_bytes);
    expect(metrics.value('tenantplane_backup_stored_bytes', { tier: 'pro' })).to.equal(
      unscheduled.size_bytes,
    );

    // A starter schedule every minute, set an hour ago: `stale` never had a backup.
    await catalog(
      "INSERT INTO backup_schedules (tier, every_seconds, keep_count, updated_at) VALUES ('starter', 60, 3, now() - interval '1 hour')",
    );
    // A tenant younger than 1.5 periods is not late yet.
    expect((await scrape()).value('tenantplane_backups_overdue')).to.equal(0);
    await catalog("UPDATE tenants SET created_at = now() - interval '1 hour' WHERE id = 'stale'");
    metrics = await scrape();
    expect(metrics.value('tenantplane_backups_overdue')).to.equal(1);

    // Backed up now it is not; then its backups stop: 91 s later (1.5 × 60 s) it is overdue again.
    await backUp('stale');
    expect((await scrape()).value('tenantplane_backups_overdue')).to.equal(0);
    await catalog(
      "UPDATE backups SET completed_at = completed_at - interval '91 seconds' WHERE tenant_id = 'stale'",
    );
    metrics = await scrape();
    expect(metrics.value('tenantplane_backups_overdue')).to.equal(1);
    expect(metrics.value('tenantplane_tenant_last_backup_age_seconds', { tenant: '__other__' })).to.be.above(
      90,
    );

    // The last drill of `fresh` failed; a later one that passed clears it.
    await catalog(
      'INSERT INTO backup_drills (backup_id, tenant_id, passed, finished_at, details) VALUES (?, \'fresh\', false, now(), \'{"error": "users differ"}\')',
      [fresh.id],
    );
    expect((await scrape()).value('tenantplane_backup_drills_failed')).to.equal(1);
    await catalog(
      "INSERT INTO backup_drills (backup_id, tenant_id, passed, finished_at) VALUES (?, 'fresh', true, now())",
      [fresh.id],
    );
    expect((await scrape()).value('tenantplane_backup_drills_failed')).to.equal(0);
    // A failed drill of a backup pruned since says nothing of the backups kept.
    await catalog(
      "INSERT INTO backup_drills (backup_id, tenant_id, passed, finished_at) VALUES ('pruned-one', 'fresh', false, now())",
    );
    expect((await scrape()).value('tenantplane_backup_drills_failed')).to.equal(0);
  });

  it('backups status exits 1 with an overdue tenant or a failed drill, and 0 otherwise', async () => {
    await catalog('DELETE FROM backup_drills');
    await catalog("UPDATE backups SET completed_at = now() WHERE tenant_id = 'stale'");
    const healthy = await tenantctl('backups', 'status');
    expect(healthy.code, healthy.stderr).to.equal(0);
    expect(healthy.stdout).to.match(/overdue backups: 0/);

    await catalog(
      "UPDATE backups SET completed_at = now() - interval '10 minutes' WHERE tenant_id = 'stale'",
    );
    const [{ id: backupId }] = (await catalog("SELECT id FROM backups WHERE tenant_id = 'fresh'")).rows;
    await catalog(
      'INSERT INTO backup_drills (backup_id, tenant_id, passed, finished_at, details) VALUES (?, \'fresh\', false, now(), \'{"error": "users differ"}\')',
      [backupId],
    );
    const unhealthy = await tenantctl('backups', 'status', '--json');
    expect(unhealthy.code, unhealthy.stderr).to.equal(1);
    const report = JSON.parse(unhealthy.stdout) as {
      ok: boolean;
      overdue: Array<{ tenant_id: string; every_seconds: number; age_seconds: number }>;
      failed_drills: Array<{ tenant_id: string; backup_id: string; error: string }>;
    };
    expect(report.ok).to.equal(false);
    expect(report.overdue.map((tenant) => tenant.tenant_id)).to.deep.equal(['stale']);
    expect(report.overdue[0]!.age_seconds).to.be.above(590);
    expect(report.failed_drills).to.deep.include({
      ...report.failed_drills[0],
      tenant_id: 'fresh',
      error: 'users differ',
    });

    // A failed drill alone is enough.
    await catalog("UPDATE backups SET completed_at = now() WHERE tenant_id = 'stale'");
    const drillOnly = await tenantctl('backups', 'status');
    expect(drillOnly.code).to.equal(1);
    expect(drillOnly.stdout).to.match(/failed drills: 1\n[\s\S]*fresh/);
  });

  it('reads the figures of 10,000 tenants with 30 backups each in one cheap query', async () => {
    // Straight into the catalog: 10,000 active tenants (half of the scheduled starter tier), 300,000 backups.
    await catalog(
      `INSERT INTO tenants (id, name, tier, status, created_at)
       SELECT 'scale-' || i, 'scale', CASE WHEN i % 2 = 0 THEN 'starter' ELSE 'pro' END, 'active', now() - interval '1 day'
         FROM generate_series(1, 10000) i`,
    );
    // Tenant i's newest backup completed 10 × i seconds ago; the starter ones older than 90 s are overdue.
    await catalog(
      `INSERT INTO backups (id, tenant_id, state, object_key, size_bytes, sha256, schema_version, created_at, completed_at)
       SELECT 'b-' || i || '-' || k, 'scale-' || i, 'complete', 'k', 1000, 'x', 'v',
              now() - make_interval(secs => i * 10 + k * 3600), now() - make_interval(secs => i * 10 + k * 3600)
         FROM generate_series(1, 10000) i, generate_series(0, 29) k`,
    );
    await catalog(
      "INSERT INTO backup_schedules (tier, every_seconds, keep_count, updated_at) VALUES ('starter', 60, 3, now() - interval '1 hour') ON CONFLICT (tier) DO NOTHING",
    );
    await catalog('ANALYZE backups');
    await catalog('ANALYZE tenants');
    const { BackupHealth } = await import('../src/backup/monitoring/backup-health.js');
    const health = new BackupHealth(plane.tp.knex);
    const labelled = Array.from({ length: 100 }, (_, i) => `scale-${i + 1}`);
    await health.summary(labelled);
    const started = performance.now();
    const summary = await health.summary(labelled);
    const elapsed = performance.now() - started;
    expect(summary.ages.size).to.equal(100);
    expect(summary.ages.get('scale-7')).to.be.within(70, 120);
    // Even i from 10 to 10,000 (and `stale`, when the tests before ran).
    const overdue = (await health.overdueTenants()).map((tenant) => tenant.tenant_id);
    expect(overdue.filter((id) => id.startsWith('scale-'))).to.have.length(4996);
    expect(summary.overdue).to.equal(overdue.length);
    expect(summary.storedBytes.get('pro')).to.be.above(5000 * 30 * 1000 - 1);
    expect(elapsed, `one summary took ${Math.round(elapsed)} ms`).to.be.below(1000);
  });
});
