import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { backupTenant } from '../src/backup/tenant-backup.js';
import { newArchiveId } from '../src/backup/tenant-export.js';
import { restoreTenant } from '../src/backup/tenant-restore.js';
import { databaseUnavailableError, SQLSTATE } from '../src/errors/index.js';
import { finishedJob } from './support/job-status.js';
import { type Answer, send } from './support/request-load.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** The cluster's admin role: no superuser, as on managed PostgreSQL. */
const ADMIN = 'tp_restore_admin';
const TABLES = ['audit_events', 'deployments', 'users', 'workflows'];
/** Rows per tenant in the tables loaded after audit_events: enough that loading them takes a while. */
const SEEDED = 80000;
/** How long a restore whose server went away may take to fail: it must fail, not hang. */
const FAIL_WITHIN_MS = 20000;

/** Whichever settles first: `promise`, or a rejection naming what did not happen within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('a restore in place whose database server goes away while it loads', function () {
  this.timeout(120000);
  let cluster: TestCluster;
  let plane: TestPlane;
  let base: string;
  let adminToken: string;
  /** The cluster's stop, once a test has begun it. */
  let stopping: Promise<void> | undefined;
  const shardDb = () => `${plane.prefix}_s_shard_own`;
  const dedicatedDb = () => `${plane.prefix}_t_solo`;
  const admin = (method: string, path: string, body?: unknown): Promise<Answer> =>
    send(base, method, path, adminToken, body);

  /** Per table, the tenant's row count and a digest of its rows in id order (read as the superuser). */
  async function contents(database: string, tenantId: string): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const table of TABLES) {
      const { rows } = await cluster.query<{ count: string; digest: string | null }>(
        database,
        `SELECT count(*)::text AS count, md5(string_agg(t::text, '|' ORDER BY t.id)) AS digest
           FROM ${table} t WHERE tenant_id = $1`,
        [tenantId],
      );
      result[table] = `${rows[0]!.count} ${rows[0]!.digest}`;
    }
    return result;
  }

  /** Rows for every table; audit_events (loaded first) small, the others large. */
  function seed(database: string, tenantId: string, tag: string, rows = SEEDED) {
    return cluster.query(
      database,
      `INSERT INTO audit_events (tenant_id, actor, action) SELECT '${tenantId}', 'seed', '${tag}-' || n FROM generate_series(1, 2000) n;
       INSERT INTO deployments (tenant_id, project_name, status) SELECT '${tenantId}', '${tag}-' || n, 'ready' FROM generate_series(1, ${rows}) n;
       INSERT INTO users (tenant_id, email) SELECT '${tenantId}', '${tag}-' || n || '@example.com' FROM generate_series(1, ${rows}) n;
       INSERT INTO workflows (tenant_id, name, status) SELECT '${tenantId}', '${tag}-' || n, 'idle' FROM generate_series(1, ${rows}) n;`,
    );
  }

  /** Changes made after the backup, which a restore would undo. */
  function change(database: string, tenantId: string) {
    return cluster.query(
      database,
      `UPDATE deployments SET status = 'changed' WHERE tenant_id = '${tenantId}' AND project_name LIKE '%-1_';
       DELETE FROM users WHERE tenant_id = '${tenantId}' AND email LIKE '%-2_@example.com';
       INSERT INTO workflows (tenant_id, name, status) SELECT '${tenantId}', 'later-' || n, 'idle' FROM generate_series(1, 30) n;`,
    );
  }

  async function leftAsItWas(tenantId: string) {
    expect((await plane.tp.catalog.requireTenant(tenantId)).status, 'tenant status').to.equal('active');
    const fences = await adminQuery(
      `${plane.prefix}_control`,
      'SELECT * FROM tenant_moves WHERE tenant_id = $1',
      [tenantId],
    );
    expect(fences.rows, 'tenant_moves').to.deep.equal([]);
  }

  before(async () => {
    cluster = await createTestCluster();
    const password = randomBytes(12).toString('hex');
    await cluster.query(
      'postgres',
      `CREATE ROLE ${ADMIN} LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '${password}' IN ROLE pg_read_all_stats`,
    );
    plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    await adminQuery(`${plane.prefix}_control`, 'DELETE FROM tier_quotas');
    await plane.tp.servers.add(
      { id: 'pg-own', adminUrl: cluster.url(ADMIN, password), maxConnections: 40 },
      TEST_ACTOR,
    );
    await plane.tp.shards.add({ id: 'shard-own', serverId: 'pg-own' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'restored', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'neighbour', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'solo', tier: 'enterprise' }, TEST_ACTOR);
    await seed(shardDb(), 'restored', 'r');
    await seed(shardDb(), 'neighbour', 'n', 500);
    await seed(dedicatedDb(), 'solo', 's');
    base = await plane.listen();
    adminToken = await plane.mint({ admin: true });
  });
  /** Waits for a stop a test began (it may have failed halfway through it) and starts the server again. */
  async function serverBack(): Promise<void> {
    await stopping?.catch(() => {});
    stopping = undefined;
    if (!(await cluster.isReady())) await cluster.start();
  }

  after(async () => {
    try {
      // Bounded: a restore that never settles (a test failing the worst way) would hold the close up.
      if (plane) await within(plane.close(), 30000, 'closing the plane');
    } finally {
      // pg_dropcluster --stop fails on a cluster that is down: bring it up first.
      if (cluster) await serverBack().catch(() => {});
      await cluster?.drop();
    }
  });

  // A test that failed while the server was down leaves it down: the next one needs it back.
  afterEach(serverBack);

  it('on a shard: fails as unavailable, rolls the load back, gives the tenant back, and runs again', async () => {
    const deps = plane.tp.backups.deps;
    const backup = await backupTenant(deps, 'restored', newArchiveId());
    const backedUp = await contents(shardDb(), 'restored');
    await change(shardDb(), 'restored');
    const before = await contents(shardDb(), 'restored');
    expect(before).to.not.deep.equal(backedUp);
    const neighbour = await contents(shardDb(), 'neighbour');

    const loaded: string[] = [];
    const restore = restoreTenant(deps, 'restored', backup.id, {
      actor: TEST_ACTOR,
      onProgress: (progress) => {
        loaded.push(progress.table);
        // audit_events is in; the large tables are loading: the server goes away now.
        stopping ??= cluster.stop();
      },
    });
    const failure = await within(
      restore.then(
        () => {
          throw new Error('the restore succeeded although its server went away');
        },
        (error: Error & { code?: string }) => error,
      ),
      FAIL_WITHIN_MS,
      'the restore',
    );
    await stopping;
    expect(loaded, 'tables loaded before the server went away').to.deep.equal(['audit_events']);
    // The session's end as PostgreSQL gives it (admin_shutdown), which the API answers as a 503.
    // The session ends with 57P01, or the socket breaks first under a write (EPIPE, ECONNRESET): all mean
    // the server went away.
    expect(failure.code, String(failure.stack)).to.be.oneOf([
      SQLSTATE.adminShutdown,
      'EPIPE',
      'ECONNRESET',
      'ECONNLOST',
    ]);
    expect(databaseUnavailableError(failure)?.code).to.equal('database_unavailable');

    await cluster.start();
    await leftAsItWas('restored');
    expect(await contents(shardDb(), 'restored'), 'rows after the failed restore').to.deep.equal(before);
    expect(await contents(shardDb(), 'neighbour'), "the neighbour's rows").to.deep.equal(neighbour);

    const again = await restoreTenant(deps, 'restored', backup.id, { actor: TEST_ACTOR });
    expect(again.tables.deployments).to.equal(SEEDED);
    expect(await contents(shardDb(), 'restored'), 'rows after the second restore').to.deep.equal(backedUp);
    expect(await contents(shardDb(), 'neighbour'), "the neighbour's rows").to.deep.equal(neighbour);
    await leftAsItWas('restored');
  });

  it('in a dedicated database, through the admin API: the job fails, the tenant is as it was, tenantctl restores', async () => {
    const made = await admin('POST', '/admin/v1/tenants/solo/backups', {});
    expect(made.status, JSON.stringify(made.body)).to.equal(202);
    const backupJob = await waitForJob(made.body.job_id);
    expect(backupJob.state, JSON.stringify(backupJob)).to.equal('completed');
    const backupId = backupJob.result.id as string;
    const backedUp = await contents(dedicatedDb(), 'solo');
    await change(dedicatedDb(), 'solo');
    const before = await contents(dedicatedDb(), 'solo');
    expect(before).to.not.deep.equal(backedUp);

    const queued = await admin('POST', '/admin/v1/tenants/solo/restores', { backup_id: backupId });
    expect(queued.status, JSON.stringify(queued.body)).to.equal(202);
    const jobId = queued.body.job_id as string;
    // The job's progress names each table once it is in: audit_events in, the large tables loading.
    const started = performance.now();
    for (;;) {
      const job = await admin('GET', `/admin/v1/jobs/${jobId}`);
      expect(job.body.state, JSON.stringify(job.body)).to.not.be.oneOf(['completed', 'failed']);
      if (job.body.progress?.tables?.audit_events) {
        expect(Object.keys(job.body.progress.tables)).to.deep.equal(['audit_events']);
        break;
      }
      expect(performance.now() - started, 'time to load audit_events').to.be.lessThan(FAIL_WITHIN_MS);
      await sleep(20);
    }
    stopping = cluster.stop();
    await stopping;
    // Every attempt (3, 1 s and 2 s apart) meets the server down; the last one's error is the job's.
    const failed = await within(waitForJob(jobId), FAIL_WITHIN_MS, 'the restore job');
    expect(failed.state, JSON.stringify(failed)).to.equal('failed');
    const recorded = await adminQuery<{ error_code: string | null; error: string }>(
      `${plane.prefix}_control`,
      'SELECT error_code, error FROM backup_requests WHERE job_id = $1',
      [jobId],
    );
    expect(recorded.rows[0], JSON.stringify(recorded.rows)).to.include({ error_code: 'server_unreachable' });

    await cluster.start();
    await leftAsItWas('solo');
    expect(await contents(dedicatedDb(), 'solo'), 'rows after the failed restore').to.deep.equal(before);

    const cli = await runTenantctl(
      plane.cliEnv({ REDIS_URL: '', LOG_LEVEL: 'warn' }),
      'restore',
      'solo',
      '--backup',
      backupId,
      '--json',
    );
    expect(cli.code, cli.stderr).to.equal(0);
    expect(JSON.parse(cli.stdout).tables.deployments).to.equal(SEEDED);
    expect(await contents(dedicatedDb(), 'solo'), 'rows after tenantctl restore').to.deep.equal(backedUp);
    await leftAsItWas('solo');
  });

  const waitForJob = (jobId: string) => finishedJob(admin, jobId, 50);
});
