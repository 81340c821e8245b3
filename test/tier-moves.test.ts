import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expect } from 'chai';
import pg from 'pg';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import { TenantplaneError } from '../src/errors.js';
import { startWorkers } from '../src/jobs/bullmq-job-queue.js';
import { jobHandlers } from '../src/jobs/job-handlers.js';
import { inMoveTransactions } from '../src/moves/move-connections.js';
import { createTenantMover } from '../src/moves/move-jobs.js';
import { resyncTable } from '../src/moves/row-resync.js';
import { matchingLayouts } from '../src/moves/table-layout.js';
import { type MoveProgress, TenantMover, type TenantMoverOptions } from '../src/moves/tenant-mover.js';
import { TEST_REDIS_URL } from './setup/hooks.js';
import { ADMIN_KINDS, createManagedAdmin } from './support/managed-admin.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  dropEverything,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

const run = promisify(execFile);

interface ExpectedRow {
  table: 'deployments' | 'workflows';
  id: string;
  name: string;
  status: string;
}

/**
 * Application traffic for one tenant through the HTTP API: workers that create, update and delete rows
 * without pause. Each worker only touches rows it created, one request at a time, so the rows the API
 * acknowledged (2xx) say exactly what the database must hold.
 */
class Traffic {
  readonly rows = new Map<string, ExpectedRow>();
  readonly statuses = new Map<number, number>();
  readonly refusedWithoutRetryAfter: number[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];

  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  seed(rows: ExpectedRow[]): void {
    for (const row of rows) this.rows.set(row.id, row);
  }

  start(workers = 4): void {
    const seeded = [...this.rows.values()];
    for (let worker = 0; worker < workers; worker++) {
      const own = seeded.filter((_, index) => index % workers === worker).map((row) => row.id);
      this.#workers.push(this.#work(worker, own));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
  }

  count(status: number): number {
    return this.statuses.get(status) ?? 0;
  }

  async #call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    this.statuses.set(response.status, this.count(response.status) + 1);
    if (response.status === 503 && !response.headers.get('retry-after')) {
      this.refusedWithoutRetryAfter.push(response.status);
    }
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async #work(worker: number, own: string[]): Promise<void> {
    let step = 0;
    while (!this.#stopped) {
      step += 1;
      const pick = own.length === 0 ? 0 : step % 10;
      if (pick < 5) {
        const table = step % 2 === 0 ? 'deployments' : 'workflows';
        const name = `w${worker}-${step}`;
        const created = await this.#call(
          'POST',
          `/api/v1/${table}`,
          table === 'deployments' ? { project_name: name, status: 'queued' } : { name, status: 'queued' },
        );
        if (created.status === 201) {
          this.rows.set(created.body.id, { table, id: created.body.id, name, status: 'queued' });
          own.push(created.body.id);
        }
      } else if (pick < 8) {
        const row = this.rows.get(own[step % own.length]!)!;
        const status = `s${step}`;
        const updated = await this.#call('PATCH', `/api/v1/${row.table}/${row.id}`, { status });
        if (updated.status === 200) row.status = status;
      } else {
        const index = step % own.length;
        const row = this.rows.get(own[index]!)!;
        const removed = await this.#call('DELETE', `/api/v1/${row.table}/${row.id}`);
        if (removed.status === 204) {
          this.rows.delete(row.id);
          own.splice(index, 1);
        }
      }
      // A breath between requests; a refused one comes back soon too (not after Retry-After: the test is short).
      await sleep(10);
    }
  }
}

/**
 * A TCP port in front of the test PostgreSQL that can be closed and opened again: a second server
 * registration behind it becomes unreachable, then reachable, at will.
 */
class SwitchablePort {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(5432, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => (this.#server ? this.#server.close(resolve) : resolve(undefined)));
    this.#server = undefined;
  }
}

for (const adminKind of ADMIN_KINDS) {
  describe(`tier moves with a ${adminKind.name}`, function () {
    this.timeout(120000);
    let plane: TestPlane;
    let adminUrl: string;
    let base: string;
    let token: string;
    let adminToken: string;
    let neighbourBefore: unknown[];
    const secondServer = new SwitchablePort();

    const shardDb = () => `${plane.prefix}_s_shard_one`;
    const dedicatedDb = () => `${plane.prefix}_t_mover`;

    async function admin(method: string, path: string, body?: unknown) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    }

    async function waitForJob(jobId: string) {
      for (;;) {
        const job = await admin('GET', `/admin/v1/jobs/${jobId}`);
        expect(job.status).to.equal(200);
        if (job.body.state === 'completed' || job.body.state === 'failed') return job.body;
        await sleep(100);
      }
    }

    /** The tenant's rows as a database holds them (read as the superuser, which row-level security spares). */
    async function rowsIn(database: string, tenantId = 'mover'): Promise<ExpectedRow[]> {
      const result = await adminQuery<ExpectedRow>(
        database,
        `SELECT 'deployments' AS table, id, project_name AS name, status FROM deployments WHERE tenant_id = $1
       UNION ALL SELECT 'workflows', id, name, status FROM workflows WHERE tenant_id = $1 ORDER BY id`,
        [tenantId],
      );
      return result.rows;
    }

    function expected(traffic: Traffic): ExpectedRow[] {
      return [...traffic.rows.values()]
        .map((row) => ({ ...row }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }

    async function databaseExists(name: string): Promise<boolean> {
      return (
        (await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
      );
    }

    async function neighbourRows(): Promise<unknown[]> {
      return (
        await adminQuery(
          shardDb(),
          `SELECT id, project_name, status, updated_at::text FROM deployments WHERE tenant_id <> 'mover' ORDER BY id`,
        )
      ).rows;
    }

    /**
     * A move of `mover` whose process "dies" on reaching `phase`: it never goes on from there, and its
     * sessions, the lock's among them, are killed as a crash would.
     */
    async function crashMoveAt(phase: MoveProgress['phase'], tier: string): Promise<void> {
      let reached!: () => void;
      const reachedPhase = new Promise<void>((resolve) => {
        reached = resolve;
      });
      void createTenantMover(plane.tp)
        .move('mover', tier, TEST_ACTOR, (progress) => {
          if (progress.phase !== phase) return;
          reached();
          return new Promise<void>(() => {});
        })
        .catch(() => {});
      await reachedPhase;
      await adminQuery(
        'postgres',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tenantplane-mover'",
      );
    }

    async function trafficFrom(database: string): Promise<Traffic> {
      const traffic = new Traffic(base, token);
      traffic.seed(await rowsIn(database));
      traffic.start();
      await sleep(300);
      return traffic;
    }

    /** Checks the traffic that ran through a move: only 2xx and 503 with Retry-After, and some of each. */
    function expectCleanTraffic(traffic: Traffic): void {
      const unexpected = [...traffic.statuses.keys()].filter(
        (status) => ![200, 201, 204, 503].includes(status),
      );
      expect(unexpected, 'statuses other than 2xx and 503').to.deep.equal([]);
      expect(traffic.refusedWithoutRetryAfter).to.deep.equal([]);
      expect(traffic.count(201), 'rows created during the move').to.be.greaterThan(10);
    }

    before(async () => {
      // Rate limits and quotas are not what this file is about: traffic runs flat out, past a starter's quotas.
      plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
      await adminQuery(
        `${plane.prefix}_control`,
        'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
      );
      adminUrl = await adminKind.register(plane);
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'mover', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'neighbour', tier: 'pro' }, TEST_ACTOR);
      // Enough rows that the bulk copy takes a while, seeded straight into the shard.
      await adminQuery(
        shardDb(),
        `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'mover', 'seed-' || n, 'ready' FROM generate_series(1, 3000) n;
       INSERT INTO workflows (tenant_id, name, status, config)
         SELECT 'mover', 'flow-' || n, 'ready', jsonb_build_object('n', n) FROM generate_series(1, 500) n;
       INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'neighbour', 'n-' || n, 'ready' FROM generate_series(1, 200) n;`,
      );
      neighbourBefore = await neighbourRows();
      base = await plane.listen();
      token = await plane.tp.devIssuer!.mint({ tenantId: 'mover' });
      adminToken = await plane.tp.devIssuer!.mint({ admin: true });
    });
    after(async () => {
      await plane.close();
      await secondServer.close();
    });

    it('moves a shard tenant to its own database while requests run, losing no acknowledged row', async () => {
      const traffic = await trafficFrom(shardDb());
      const first = await admin('PATCH', '/admin/v1/tenants/mover', { tier: 'enterprise' });
      const again = await admin('PATCH', '/admin/v1/tenants/mover', { tier: 'enterprise' });
      expect(first.status).to.equal(202);
      expect(again.body, 'the same request twice is one job').to.deep.equal(first.body);
      const job = await waitForJob(first.body.job_id);
      await sleep(300);
      await traffic.stop();

      expect(job.state, job.error).to.equal('completed');
      expect(job.result).to.include({ moved: true, tenant_id: 'mover' });
      expect(job.result.rows_copied).to.be.at.least(3000);
      expect(traffic.count(503), 'requests refused during the pause').to.be.greaterThan(0);
      expectCleanTraffic(traffic);

      const tenant = await admin('GET', '/admin/v1/tenants/mover');
      expect(tenant.body).to.deep.include({ tier: 'enterprise', status: 'active' });
      expect(tenant.body.placement).to.include({ kind: 'dedicated', database_name: dedicatedDb() });
      expect(await rowsIn(dedicatedDb())).to.deep.equal(expected(traffic));
      expect(await rowsIn(shardDb()), 'rows left on the shard').to.deep.equal([]);
      expect(await neighbourRows(), 'the neighbour’s rows').to.deep.equal(neighbourBefore);
      const moves = await adminQuery(`${plane.prefix}_control`, 'SELECT * FROM tenant_moves');
      expect(moves.rowCount).to.equal(0);
      const audit = await adminQuery<{ action: string }>(
        `${plane.prefix}_control`,
        "SELECT action FROM audit_log WHERE tenant_id = 'mover' AND action LIKE 'tenant.move%' ORDER BY id",
      );
      expect(audit.rows.map((row) => row.action)).to.deep.equal([
        'tenant.move_requested',
        'tenant.move_requested',
        'tenant.move',
      ]);
    });

    it('moves it back to a shard with `tenantctl tenants set-tier`, showing progress, while requests run', async () => {
      const traffic = await trafficFrom(dedicatedDb());
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'tenants', 'set-tier', 'mover', 'starter'],
        { env: plane.cliEnv() },
      );
      await sleep(300);
      await traffic.stop();

      expect(stdout).to.match(/moving mover to tier starter \(job tenant-move\.mover\.starter\.\d+\)/);
      expect(stdout).to.match(/writes paused/);
      expect(stdout).to.match(/tenant mover is now on tier starter in shard-one/);
      expect(traffic.count(503)).to.be.greaterThan(0);
      expectCleanTraffic(traffic);
      expect(await rowsIn(shardDb())).to.deep.equal(expected(traffic));
      expect(await databaseExists(dedicatedDb()), 'old dedicated database').to.equal(false);
      expect(await neighbourRows()).to.deep.equal(neighbourBefore);
      const tenant = await plane.tp.catalog.requireTenant('mover');
      expect(tenant).to.include({ tier: 'starter', status: 'active', databaseId: 'shard-one' });
    });

    it('rolls back a move that fails during the switch: the tenant serves from where it was, with all its rows', async () => {
      const traffic = await trafficFrom(shardDb());
      const phases: string[] = [];
      const failure = await createTenantMover(plane.tp)
        .move('mover', 'enterprise', TEST_ACTOR, async (progress: MoveProgress) => {
          phases.push(progress.phase);
          // Writes are paused and the copy is done: lose the target right before the final re-sync.
          if (progress.phase === 'paused') {
            await adminQuery('postgres', `DROP DATABASE "${dedicatedDb()}" WITH (FORCE)`);
          }
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      await sleep(300);
      await traffic.stop();

      expect(failure).to.be.instanceOf(Error);
      expect(phases).to.include('paused').and.not.include('switched');
      const tenant = await plane.tp.catalog.requireTenant('mover');
      expect(tenant).to.include({ tier: 'starter', status: 'active', databaseId: 'shard-one' });
      expect(await plane.tp.catalog.getDatabase(dedicatedDatabaseId('mover'))).to.equal(undefined);
      expect(await rowsIn(shardDb())).to.deep.equal(expected(traffic));
      expectCleanTraffic(traffic);
      // Served again after the rollback.
      const served = await fetch(`${base}/api/v1/deployments?limit=1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(served.status).to.equal(200);
    });

    it('leaves the tenant in place when the target server is unreachable, and a re-run completes', async () => {
      // A second registration, the least loaded so the move picks it, whose port then closes.
      await secondServer.open();
      const second = new URL(adminUrl);
      second.port = String(secondServer.port);
      second.pathname = '/postgres';
      await plane.tp.servers.add({ id: 'pg-second', adminUrl: second.toString() }, TEST_ACTOR);
      await secondServer.close();
      const before = await rowsIn(shardDb());
      const failure = await createTenantMover(plane.tp)
        .move('mover', 'enterprise', TEST_ACTOR)
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).to.be.instanceOf(TenantplaneError);
      expect((failure as TenantplaneError).code).to.equal('server_unreachable');
      expect(await plane.tp.catalog.requireTenant('mover')).to.include({
        status: 'active',
        databaseId: 'shard-one',
      });
      expect(await rowsIn(shardDb())).to.deep.equal(before);
      expect(await databaseExists(dedicatedDb())).to.equal(false);

      await secondServer.open();
      const rerun = await admin('PATCH', '/admin/v1/tenants/mover', { tier: 'enterprise' });
      expect(rerun.status).to.equal(202);
      const job = await waitForJob(rerun.body.job_id);
      expect(job.state, job.error).to.equal('completed');
      expect(await rowsIn(dedicatedDb())).to.deep.equal(before);
      expect(await rowsIn(shardDb())).to.deep.equal([]);
      expect(await plane.tp.catalog.getDatabase(dedicatedDatabaseId('mover'))).to.include({
        serverId: 'pg-second',
        status: 'ready',
      });
    });

    it('rolls back a move its process abandoned mid-switch when the tenant is moved again', async () => {
      const before = await rowsIn(dedicatedDb());
      await crashMoveAt('paused', 'pro');
      expect(await plane.tp.catalog.requireTenant('mover')).to.include({ status: 'moving' });
      const refused = await fetch(`${base}/api/v1/deployments?limit=1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect([refused.status, Boolean(refused.headers.get('retry-after'))]).to.deep.equal([503, true]);

      const result = await createTenantMover(plane.tp).move('mover', 'pro', TEST_ACTOR);
      expect(result.moved).to.equal(true);
      expect(await plane.tp.catalog.requireTenant('mover')).to.include({
        tier: 'pro',
        status: 'active',
        databaseId: 'shard-one',
      });
      expect(await rowsIn(shardDb())).to.deep.equal(before);
      expect(await databaseExists(dedicatedDb())).to.equal(false);
      const recovered = await adminQuery(
        `${plane.prefix}_control`,
        "SELECT details FROM audit_log WHERE tenant_id = 'mover' AND action = 'tenant.move_recovered' ORDER BY id DESC LIMIT 1",
      );
      expect(recovered.rows[0]?.details).to.deep.include({ state: 'copying', to: 'shard-one' });
    });

    it('changes tier without moving between tiers of the same placement (200, no job)', async () => {
      const response = await admin('PATCH', '/admin/v1/tenants/mover', { tier: 'starter' });
      expect(response.status).to.equal(200);
      expect(response.body).to.include({ tier: 'starter', status: 'active' });
    });

    it('finishes a move whose process died after the switch: the next move removes the old rows', async () => {
      const before = await rowsIn(shardDb());
      await crashMoveAt('switched', 'enterprise');
      // Switched: served from the new database, while the shard still holds the old copy.
      expect(await plane.tp.catalog.requireTenant('mover')).to.include({
        tier: 'enterprise',
        status: 'active',
        databaseId: dedicatedDatabaseId('mover'),
      });
      expect(await rowsIn(shardDb())).to.deep.equal(before);

      const result = await createTenantMover(plane.tp).move('mover', 'enterprise', TEST_ACTOR);
      expect(result.moved).to.equal(false);
      expect(await rowsIn(shardDb())).to.deep.equal([]);
      expect(await rowsIn(dedicatedDb())).to.deep.equal(before);
      expect((await adminQuery(`${plane.prefix}_control`, 'SELECT 1 FROM tenant_moves')).rowCount).to.equal(
        0,
      );
    });

    it('moves a suspended tenant and leaves it suspended', async () => {
      const before = await rowsIn(dedicatedDb());
      await plane.tp.tenants.setStatus('mover', 'suspended', TEST_ACTOR);
      const result = await createTenantMover(plane.tp).move('mover', 'starter', TEST_ACTOR);
      expect(result.moved).to.equal(true);
      expect(await plane.tp.catalog.requireTenant('mover')).to.include({
        tier: 'starter',
        status: 'suspended',
        databaseId: 'shard-one',
      });
      expect(await rowsIn(shardDb())).to.deep.equal(before);
      await plane.tp.tenants.setStatus('mover', 'active', TEST_ACTOR);
    });

    it('refuses a statement on a handle taken before the tenant was paused, and serves it again after', async () => {
      const router = plane.tp.router!;
      const handle = await router.forTenant('mover');
      await handle.query('SELECT 1');
      await plane.tp.catalog.updateTenant('mover', { status: 'moving' });
      // The pause reaches the router through NOTIFY.
      while (
        (await router.forTenant('mover').then(
          () => 'served',
          (error: TenantplaneError) => error.code,
        )) === 'served'
      ) {
        await sleep(20);
      }
      const refused = await handle.query('SELECT 1').then(
        () => 'served',
        (error: TenantplaneError) => `${error.code} ${error.status}`,
      );
      expect(refused).to.equal('tenant_moving 503');
      await plane.tp.catalog.updateTenant('mover', { status: 'active' });
      while (
        (await router.forTenant('mover').then(
          () => 'served',
          () => 'refused',
        )) === 'refused'
      )
        await sleep(20);
      expect((await handle.query<{ one: number }>('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    });
  });
}

describe('tier moves on BullMQ workers', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let workers: { close(): Promise<void> };

  async function admin(method: string, path: string, body?: unknown) {
    const token = await plane.tp.devIssuer!.mint({ admin: true });
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  before(async () => {
    const jobsPrefix = `tptest-${randomBytes(4).toString('hex')}`;
    plane = await createTestPlane({ jobsPrefix }, { REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'queued', tier: 'pro' }, TEST_ACTOR);
    await adminQuery(
      `${plane.prefix}_s_shard_one`,
      "INSERT INTO deployments (tenant_id, project_name, status) SELECT 'queued', 'p-' || n, 'ready' FROM generate_series(1, 200) n",
    );
    base = await plane.listen();
    // A worker in this process, on the same Redis queues the API enqueues to.
    workers = startWorkers({
      redisUrl: TEST_REDIS_URL,
      prefix: jobsPrefix,
      handlers: jobHandlers(plane.tp),
      concurrency: 1,
      logger: plane.tp.logger,
    });
  });
  after(async () => {
    await workers.close();
    await plane.close();
  });

  it('runs the move as one job however often it is requested, with its progress and result in the queue', async () => {
    const requests = await Promise.all(
      [1, 2, 3].map(() => admin('PATCH', '/admin/v1/tenants/queued', { tier: 'enterprise' })),
    );
    expect(requests.map((request) => request.status)).to.deep.equal([202, 202, 202]);
    const ids = new Set(requests.map((request) => request.body.job_id));
    expect([...ids]).to.deep.equal(['tenant-move.queued.enterprise.1']);
    let job: { state: string; progress: { phase?: string }; result: Record<string, unknown>; error: string };
    do {
      await sleep(100);
      job = (await admin('GET', '/admin/v1/jobs/tenant-move.queued.enterprise.1')).body as typeof job;
    } while (job.state !== 'completed' && job.state !== 'failed');
    expect(job.state, job.error).to.equal('completed');
    expect(job.progress.phase).to.equal('done');
    expect(job.result).to.include({ moved: true, rows_copied: 200 });
    const rows = await adminQuery(
      `${plane.prefix}_t_queued`,
      "SELECT count(*)::int AS n FROM deployments WHERE tenant_id = 'queued'",
    );
    expect(rows.rows[0]!.n).to.equal(200);
    const again = await admin('PATCH', '/admin/v1/tenants/queued', { tier: 'pro' });
    expect(again.body.job_id, 'a new move after the last one ended').to.equal('tenant-move.queued.pro.2');
  });
});

for (const admin of ADMIN_KINDS) {
  describe(`tier move re-sync with a ${admin.name}`, () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const [sourceDb, targetDb] = [`${prefix}_resync_source`, `${prefix}_resync_target`];
    const clients: pg.Client[] = [];

    // `names` compares with the typed record hash; `amounts` has a numeric column, so it falls back to md5 of
    // each row's text, which tells 1.0 from 1.00. Both have forced row-level security like tenant tables, so
    // a non-superuser admin, their owner, is bound by it.
    const policy = (table: string) => `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON ${table}
      USING (tenant_id = current_setting('tenantplane.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('tenantplane.tenant_id', true));`;
    const schema = `CREATE TABLE names (id uuid PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);
    CREATE TABLE amounts (id uuid PRIMARY KEY, tenant_id text NOT NULL, amount numeric NOT NULL);
    ${policy('names')} ${policy('amounts')}`;

    async function contents(database: string): Promise<unknown[]> {
      return (
        await adminQuery(
          database,
          `SELECT 'names' AS t, id, tenant_id, name AS v FROM names
         UNION ALL SELECT 'amounts', id, tenant_id, amount::text FROM amounts ORDER BY t, id`,
        )
      ).rows;
    }

    before(async () => {
      const managedUrl = admin.superuser ? undefined : new URL(await createManagedAdmin(prefix));
      const urlFor = (database: string) => {
        if (!managedUrl) return adminUrlFor(database);
        const url = new URL(managedUrl);
        url.pathname = `/${database}`;
        return url.toString();
      };
      for (const database of [sourceDb, targetDb]) {
        // Made and owned by the admin role, as a tenant database is.
        const server = new pg.Client({ connectionString: urlFor('postgres') });
        await server.connect();
        await server.query(`CREATE DATABASE "${database}"`);
        await server.end();
        const client = new pg.Client({ connectionString: urlFor(database) });
        await client.connect();
        await client.query(schema);
        clients.push(client);
      }
      const rows = `INSERT INTO names VALUES
        ('00000000-0000-4000-8000-000000000001', 'acme', 'kept'),
        ('00000000-0000-4000-8000-000000000002', 'acme', 'renamed later'),
        ('00000000-0000-4000-8000-000000000003', 'acme', 'deleted later'),
        ('00000000-0000-4000-8000-000000000009', 'other', 'a neighbour');
      INSERT INTO amounts VALUES
        ('00000000-0000-4000-8000-000000000011', 'acme', 1.0),
        ('00000000-0000-4000-8000-000000000012', 'acme', 2);`;
      await adminQuery(sourceDb, rows);
      await adminQuery(targetDb, rows);
      // What happened on the source after the copy.
      await adminQuery(
        sourceDb,
        `UPDATE names SET name = 'renamed' WHERE id = '00000000-0000-4000-8000-000000000002';
       DELETE FROM names WHERE id = '00000000-0000-4000-8000-000000000003';
       INSERT INTO names VALUES ('00000000-0000-4000-8000-000000000004', 'acme', 'added');
       UPDATE amounts SET amount = 1.00 WHERE id = '00000000-0000-4000-8000-000000000011';
       UPDATE names SET name = 'neighbour changed' WHERE tenant_id = 'other';`,
      );
    });
    after(async () => {
      for (const client of clients) await client.end();
      await dropEverything(prefix);
    });

    it('brings over inserts, updates and deletes of the tenant only, moving just the rows that differ', async () => {
      const [source, target] = clients as [pg.Client, pg.Client];
      const layouts = await matchingLayouts(source, target);
      const counts = await inMoveTransactions(source, target, 'acme', async () => {
        const result: Record<string, unknown> = {};
        for (const layout of layouts) result[layout.name] = await resyncTable(source, target, 'acme', layout);
        return result;
      });
      expect(counts).to.deep.equal({ amounts: { removed: 1, copied: 1 }, names: { removed: 2, copied: 2 } });
      const expected = (await contents(sourceDb)).map((row) =>
        (row as { tenant_id: string }).tenant_id === 'other' ? { ...(row as object), v: 'a neighbour' } : row,
      );
      expect(await contents(targetDb)).to.deep.equal(expected);
      const again = await inMoveTransactions(source, target, 'acme', async () => {
        const result = [];
        for (const layout of layouts) result.push(await resyncTable(source, target, 'acme', layout));
        return result;
      });
      expect(again, 'nothing left to move').to.deep.equal([
        { removed: 0, copied: 0 },
        { removed: 0, copied: 0 },
      ]);
    });
  });
}

describe('tier moves wait for every serving instance', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let proxy: PgProxy | undefined;
  const controlDb = () => `${plane.prefix}_control`;
  const shardDb = () => `${plane.prefix}_s_shard_one`;
  const dedicatedDb = () => `${plane.prefix}_t_waiter`;
  const SILENT_HOST = 'silent-test-instance';

  function mover(options: Partial<TenantMoverOptions> = {}): TenantMover {
    return new TenantMover({
      catalog: plane.tp.catalog,
      logger: plane.tp.logger,
      databasePrefix: plane.tp.config.databasePrefix,
      tenantMigrationsDir: plane.tp.tenantMigrationsDir,
      controlDatabaseUrl: plane.tp.controlDatabaseUrl,
      ...options,
    });
  }

  /** The row a serving instance that never confirms anything leaves in `instances`, renewed just now. */
  async function silentInstance(leaseMs: number): Promise<string> {
    const id = randomUUID();
    await adminQuery(
      controlDb(),
      `INSERT INTO instances (id, kind, host, pid, lease_ms) VALUES ($1, 'serve', $2, 1, $3)`,
      [id, SILENT_HOST, leaseMs],
    );
    return id;
  }

  /** The waiter's rows as a database holds them (read as the superuser, which row-level security spares). */
  async function rowsIn(database: string): Promise<ExpectedRow[]> {
    const result = await adminQuery<ExpectedRow>(
      database,
      `SELECT 'deployments' AS table, id, project_name AS name, status FROM deployments WHERE tenant_id = 'waiter'
       UNION ALL SELECT 'workflows', id, name, status FROM workflows WHERE tenant_id = 'waiter' ORDER BY id`,
    );
    return result.rows;
  }

  async function until(condition: () => boolean, limitMs: number): Promise<void> {
    const deadline = performance.now() + limitMs;
    while (!condition() && performance.now() < deadline) await sleep(20);
  }

  before(async () => {
    plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    await adminQuery(
      controlDb(),
      'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
    );
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'waiter', tier: 'starter' }, TEST_ACTOR);
    await adminQuery(
      shardDb(),
      `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'waiter', 'seed-' || n, 'ready' FROM generate_series(1, 300) n;
       INSERT INTO workflows (tenant_id, name, status, config)
         SELECT 'waiter', 'flow-' || n, 'ready', '{}' FROM generate_series(1, 100) n;`,
    );
  });
  afterEach(async () => {
    await adminQuery(controlDb(), 'DELETE FROM instances WHERE host = $1', [SILENT_HOST]);
  });
  after(async () => {
    proxy?.release();
    await plane.close();
    await proxy?.close();
  });

  it('keeps the tenant paused while a live serving instance has not confirmed, and switches soon after it does', async () => {
    const silent = await silentInstance(60000);
    let paused = false;
    const outcome = mover()
      .move('waiter', 'enterprise', TEST_ACTOR, (progress) => {
        if (progress.phase === 'paused') paused = true;
      })
      .then(
        (result) => ({ result, error: undefined }),
        (error: Error) => ({ result: undefined, error }),
      );
    await until(() => paused, 20000);
    await sleep(2000);
    expect((await plane.tp.catalog.requireTenant('waiter')).status, 'still paused 2 s in').to.equal('moving');

    const confirmedAt = performance.now();
    await adminQuery(
      controlDb(),
      'UPDATE instances SET catalog_xmin = pg_snapshot_xmin(pg_current_snapshot()) WHERE id = $1',
      [silent],
    );
    const { result, error } = await outcome;
    expect(error).to.equal(undefined);
    expect(performance.now() - confirmedAt, 'ms from the confirmation to the end of the move').to.be.below(
      1500,
    );
    expect(result!.moved).to.equal(true);
    expect(result!.confirm_ms).to.be.at.least(2000);
    expect(await plane.tp.catalog.requireTenant('waiter')).to.include({
      status: 'active',
      databaseId: dedicatedDatabaseId('waiter'),
    });
  });

  it('stops waiting for a serving instance whose lease lapses', async () => {
    const before = await rowsIn(dedicatedDb());
    const result = await mover().move('waiter', 'starter', TEST_ACTOR, async (progress) => {
      // Renewed just as the tenant is paused, then never again: it lapses 2.5 s into the pause.
      if (progress.phase === 'paused') await silentInstance(2500);
    });
    expect(result.moved).to.equal(true);
    expect(result.confirm_ms, 'ms waited for confirmations').to.be.within(2000, 5000);
    expect(await plane.tp.catalog.requireTenant('waiter')).to.include({
      status: 'active',
      databaseId: 'shard-one',
    });
    expect(await rowsIn(shardDb())).to.deep.equal(before);
  });

  it('rolls the move back when a serving instance does not confirm in time', async () => {
    const before = await rowsIn(shardDb());
    await silentInstance(60000);
    const failure = await mover({ confirmTimeoutMs: 1500 })
      .move('waiter', 'enterprise', TEST_ACTOR)
      .then(
        () => undefined,
        (error: TenantplaneError) => error,
      );
    expect([failure?.status, failure?.code]).to.deep.equal([503, 'move_confirmation_timeout']);
    expect(await plane.tp.catalog.requireTenant('waiter')).to.include({
      status: 'active',
      databaseId: 'shard-one',
    });
    expect(await rowsIn(shardDb())).to.deep.equal(before);
    const dedicated = await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
      dedicatedDb(),
    ]);
    expect(dedicated.rowCount, 'the target database').to.equal(0);
  });

  it('moves a tenant while one of two serving instances has a silent change channel, losing no write either acknowledged', async () => {
    proxy = await startPgProxy();
    const other = await plane.openAnother({ controlDatabaseUrl: proxy.url(controlDb()) });
    const otherServer = await other.listen(0, '127.0.0.1');
    try {
      const bases = [
        await plane.listen(),
        `http://127.0.0.1:${(otherServer.address() as { port: number }).port}`,
      ];
      const token = await plane.tp.devIssuer!.mint({ tenantId: 'waiter' });
      const rows = await rowsIn(shardDb());
      const traffic = bases.map((base, index) => {
        const one = new Traffic(base, token);
        one.seed(rows.filter((_, position) => position % 2 === index));
        one.start(2);
        return one;
      });
      await sleep(300);
      // From here the second instance hears nothing on its LISTEN connection, and nothing closes it.
      proxy.hold((connection) => connection.listens);
      const result = await mover().move('waiter', 'enterprise', TEST_ACTOR);
      await sleep(300);
      await Promise.all(traffic.map((one) => one.stop()));
      proxy.release();

      expect(result.moved).to.equal(true);
      const expected = traffic
        .flatMap((one) => [...one.rows.values()])
        .map((row) => ({ ...row }))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      expect(await rowsIn(dedicatedDb())).to.deep.equal(expected);
      expect(await rowsIn(shardDb()), 'rows left on the shard').to.deep.equal([]);
      for (const one of traffic) {
        expect(one.count(201), 'rows created through each instance').to.be.greaterThan(5);
        expect(
          [...one.statuses.keys()].filter((status) => ![200, 201, 204, 503].includes(status)),
        ).to.deep.equal([]);
      }
      expect(result.confirm_ms).to.be.a('number');
    } finally {
      proxy.release();
      otherServer.closeAllConnections();
      await new Promise((resolve) => otherServer.close(resolve));
    }
  });
});
