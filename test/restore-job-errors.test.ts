import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { finishedJob } from './support/job-status.js';
import { createManagedAdmin } from './support/managed-admin.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import { type Answer, send } from './support/request-load.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** Rows per large table: enough that each attempt's load is caught under way. */
const ROWS = 60000;

/**
 * A restore job whose server goes away in the middle of every attempt's load: the server is registered
 * through a TCP proxy that, once a COPY into the tenant's database is under way, closes every connection
 * to it (as a server that went away does) and then lets new ones through again for the next attempt. The
 * job fails for good on its last attempt, and what it records must say why: the database was unavailable.
 */
describe('a restore job whose server goes away mid-load', function () {
  this.timeout(90000);
  let plane: TestPlane;
  let proxy: PgProxy;
  let base: string;
  let adminToken: string;
  const database = () => `${plane.prefix}_t_solo`;
  const admin = (method: string, path: string, body?: unknown): Promise<Answer> =>
    send(base, method, path, adminToken, body);

  before(async () => {
    plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    proxy = await startPgProxy();
    const managed = new URL(await createManagedAdmin(plane.prefix, 'admin_proxied'));
    managed.host = `127.0.0.1:${proxy.port}`;
    await plane.tp.servers.add(
      { id: 'pg-proxied', adminUrl: managed.toString(), maxConnections: 40 },
      TEST_ACTOR,
    );
    await plane.tp.tenants.create({ id: 'solo', tier: 'enterprise' }, TEST_ACTOR);
    await adminQuery(
      database(),
      `INSERT INTO deployments (tenant_id, project_name, status) SELECT 'solo', 'p-' || n, 'ready' FROM generate_series(1, ${ROWS}) n;
       INSERT INTO users (tenant_id, email) SELECT 'solo', 'u-' || n || '@example.com' FROM generate_series(1, ${ROWS}) n;
       INSERT INTO workflows (tenant_id, name, status) SELECT 'solo', 'w-' || n, 'idle' FROM generate_series(1, ${ROWS}) n;`,
    );
    base = await plane.listen();
    adminToken = await plane.mint({ admin: true });
  });
  after(async () => {
    proxy?.release();
    await plane?.close();
    await proxy?.close();
  });

  /** Whether a COPY into the tenant's database is running now (asked directly, not through the proxy). */
  async function loading(): Promise<boolean> {
    const { rows } = await adminQuery<{ n: number }>(
      'postgres',
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = $1 AND state = 'active' AND query LIKE 'COPY % FROM STDIN%'`,
      [database()],
    );
    return rows[0]!.n > 0;
  }

  it('fails with database_unavailable, recorded and shown by GET /admin/v1/jobs/:id', async () => {
    const made = await admin('POST', '/admin/v1/tenants/solo/backups', {});
    expect(made.status, JSON.stringify(made.body)).to.equal(202);
    const backup = await finishedJob(admin, made.body.job_id, 50);
    expect(backup.state, JSON.stringify(backup)).to.equal('completed');

    const queued = await admin('POST', '/admin/v1/tenants/solo/restores', { backup_id: backup.result.id });
    expect(queued.status, JSON.stringify(queued.body)).to.equal(202);
    let done = false;
    const job = finishedJob(admin, queued.body.job_id, 50).finally(() => {
      done = true;
    });
    // Each attempt's load is cut while it runs; the server is reachable again right after.
    let cuts = 0;
    while (!done) {
      if (await loading()) {
        proxy.cut(() => true);
        proxy.release();
        cuts += 1;
        while (!done && (await loading())) await sleep(10);
      }
      await sleep(10);
    }
    const failed = await job;
    expect(failed.state, JSON.stringify(failed)).to.equal('failed');
    expect(cuts, 'attempts cut mid-load').to.equal(3);
    expect(failed.error_code, JSON.stringify(failed)).to.equal('database_unavailable');
    const recorded = await adminQuery<{ error_code: string | null }>(
      `${plane.prefix}_control`,
      'SELECT error_code FROM backup_requests WHERE job_id = $1',
      [queued.body.job_id],
    );
    expect(recorded.rows).to.deep.equal([{ error_code: 'database_unavailable' }]);

    // Nothing of the failed loads stayed: the tenant serves again with its rows as they were.
    expect((await plane.tp.catalog.requireTenant('solo')).status).to.equal('active');
    const { rows } = await adminQuery<{ n: number }>(database(), 'SELECT count(*)::int AS n FROM users');
    expect(rows[0]!.n).to.equal(ROWS);
  });
});
