import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import express from 'express';
import type { Knex } from 'knex';
import pg from 'pg';
import { connectControlDatabase } from '../src/catalog/control-database.js';
import { databaseUnavailableError } from '../src/errors.js';
import { errorHandler } from '../src/http/error-handler.js';
import { listen } from '../src/http/listen.js';
import { appRoleName, dedicatedDatabaseName, shardDatabaseName } from '../src/ids.js';
import { createLogger } from '../src/logging/logger.js';
import { MigrationFailedError, migrateDatabase } from '../src/migrations/database-migrator.js';
import { lockTenantMove } from '../src/moves/move-lock.js';
import { withAdminClient } from '../src/provisioning/admin-connection.js';
import { type ChildService, startTenantctl } from './support/child-service.js';
import { freePort } from './support/free-port.js';
import { callJson } from './support/http-client.js';
import { logTail, type Outcome, RequestLoad, send, summary } from './support/request-load.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

/** The service's wait for a tenant connection before it answers 503 (set explicitly in its environment). */
const ACQUIRE_TIMEOUT_MS = 1000;
/** No request may take longer than the acquire timeout plus this: a request that hangs is the bug. */
const LATENCY_MARGIN_MS = 1500;
/** Once PostgreSQL is back (or the killed sessions are gone), every request started this much later succeeds. */
const RECOVERY_MS = 2000;
/** Load kept up after recovery, so that "every request succeeds" is said of a good number of requests. */
const AFTER_RECOVERY_MS = 1500;

interface LoadTenant {
  id: string;
  token: string;
}

/**
 * Application traffic from the test: per tenant two loops of reads and one of writes, each one request at
 * a time with a breath between (enough load to have requests in flight at any moment, no flood).
 */
function startLoad(base: string, tenants: LoadTenant[], label: string): RequestLoad {
  const load = new RequestLoad(base, label, 10000);
  for (const tenant of tenants) {
    load.run(tenant.id, tenant.token, 'read', 5);
    load.run(tenant.id, tenant.token, 'read', 5);
    load.run(tenant.id, tenant.token, 'write', 10);
  }
  return load;
}

/** One outcome in a line, for failure messages. */
function oneLine(o: Outcome): string {
  const answer = o.status === 0 ? `no answer (${o.error})` : `${o.status} ${o.code ?? ''}`;
  return `${o.tenant} ${o.kind}: ${answer} after ${Math.round(o.ms)} ms, Retry-After ${o.retryAfter}`;
}

describe('database faults under load (tenantctl serve)', function () {
  this.timeout(60000);
  let cluster: TestCluster;
  let plane: TestPlane;
  let tenants: LoadTenant[];
  let service: ChildService | undefined;

  before(async () => {
    cluster = await createTestCluster();
    // An admin role like a managed service's: no superuser, only CREATEDB, CREATEROLE and the stats role.
    await cluster.query(
      'postgres',
      "CREATE ROLE tp_admin LOGIN CREATEDB CREATEROLE PASSWORD 'managed-admin-pw'; GRANT pg_read_all_stats TO tp_admin",
    );
    plane = await createTestPlane();
    // Unbounded for this test's writes (the quota check itself still runs, in its transaction).
    await plane.tp.knex('tiers').where({ id: 'pro' }).update({ max_deployments: 1000000 });
    await plane.tp.servers.add(
      { id: 'pg-managed', adminUrl: cluster.url('tp_admin', 'managed-admin-pw'), maxConnections: 40 },
      TEST_ACTOR,
    );
    await plane.tp.shards.add({ id: 'shard-faults', serverId: 'pg-managed' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'shard-co', tier: 'pro' }, TEST_ACTOR);
    // The dedicated database is made by the same non-superuser admin; the router's connections to it carry
    // the tenant in their startup packet.
    await plane.tp.tenants.create({ id: 'big-co', tier: 'enterprise' }, TEST_ACTOR);
    const placed = await plane.tp.catalog.tenantRoute('big-co');
    expect(placed?.serverId).to.equal('pg-managed');
    tenants = [];
    for (const id of ['shard-co', 'big-co']) {
      tenants.push({ id, token: await plane.mint({ tenantId: id }) });
    }
  });

  beforeEach(async () => {
    service = await startTenantctl(
      ['serve'],
      plane.cliEnv({
        PORT: '0',
        ROUTER_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
        // The load is far above the tiers' request rates; rate limits are not what this file tests.
        RATE_LIMITS: 'off',
      }),
      'tenantplane listening',
    );
  });

  afterEach(async () => {
    service?.child.kill('SIGKILL');
    service = undefined;
    // A test that failed halfway must not leave the next one without its server.
    if (!(await cluster.isReady())) await cluster.start();
  });

  after(async () => {
    await plane?.close();
    await cluster?.drop();
  });

  /** Rows the API acknowledged with 201 that the database does not hold, read back as the superuser. */
  async function missingAcknowledgedWrites(outcomes: Outcome[]): Promise<string[]> {
    const databases: Record<string, string> = {
      'shard-co': shardDatabaseName(plane.prefix, 'shard-faults'),
      'big-co': dedicatedDatabaseName(plane.prefix, 'big-co'),
    };
    const missing: string[] = [];
    for (const [tenant, database] of Object.entries(databases)) {
      const acknowledged = outcomes.filter((o) => o.tenant === tenant && o.id).map((o) => o.id!);
      expect(acknowledged.length, `writes acknowledged for ${tenant}`).to.be.greaterThan(0);
      const found = await cluster.query<{ id: string }>(
        database,
        'SELECT id::text AS id FROM deployments WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
        [tenant, acknowledged],
      );
      const present = new Set(found.rows.map((row) => row.id));
      missing.push(...acknowledged.filter((id) => !present.has(id)));
    }
    return missing;
  }

  /**
   * What both faults must leave behind: the service still running; every answer a success or a 503 with
   * Retry-After (never a 500, never no answer); no request slower than the acquire timeout plus a margin;
   * every request started `RECOVERY_MS` after `recovered` a success; every acknowledged write stored.
   */
  async function expectSurvived(
    load: RequestLoad,
    fault: { from: number; recovered: number; mustFail: boolean },
  ): Promise<void> {
    const current = service!;
    expect(
      { exitCode: current.child.exitCode, signal: current.child.signalCode },
      `the service exited:\n${logTail(current)}`,
    ).to.deep.equal({ exitCode: null, signal: null });
    expect((await send(current.base, 'GET', '/health', tenants[0]!.token)).status).to.equal(200);

    const { outcomes } = load;
    const all = summary(outcomes);
    const unexpected = outcomes.filter(
      (o) =>
        !(o.status === 200 || o.status === 201 || (o.status === 503 && /^\d+$/.test(o.retryAfter ?? ''))),
    );
    expect(
      unexpected.slice(0, 3).map(oneLine),
      `answers other than 2xx or 503 with Retry-After; all: ${all}`,
    ).to.deep.equal([]);

    const slow = outcomes.filter((o) => o.ms > ACQUIRE_TIMEOUT_MS + LATENCY_MARGIN_MS);
    expect(
      slow
        .slice(0, 5)
        .map((o) => ({ tenant: o.tenant, kind: o.kind, ms: Math.round(o.ms), status: o.status })),
      `requests slower than ${ACQUIRE_TIMEOUT_MS + LATENCY_MARGIN_MS} ms`,
    ).to.deep.equal([]);

    if (fault.mustFail) {
      const during = outcomes.filter((o) => o.started >= fault.from && o.started < fault.recovered);
      expect(
        during.some((o) => o.status === 503),
        `the fault was seen by the traffic: ${summary(during)}`,
      ).to.equal(true);
    }

    const late = outcomes.filter((o) => o.started >= fault.recovered + RECOVERY_MS);
    for (const tenant of tenants) {
      for (const kind of ['read', 'write'] as const) {
        expect(
          late.filter((o) => o.tenant === tenant.id && o.kind === kind).length,
          `${kind}s of ${tenant.id} after recovery`,
        ).to.be.greaterThan(0);
      }
    }
    const failedLate = late.filter((o) => o.status >= 300);
    expect(
      failedLate.slice(0, 5).map((o) => ({
        tenant: o.tenant,
        kind: o.kind,
        status: o.status,
        code: o.code,
        afterRecoveryMs: Math.round(o.started - fault.recovered),
      })),
      `requests started ${RECOVERY_MS} ms after recovery that failed: ${summary(failedLate)}`,
    ).to.deep.equal([]);

    expect(await missingAcknowledgedWrites(outcomes), 'acknowledged writes missing').to.deep.equal([]);
  }

  it('keeps serving through a PostgreSQL restart: 503 with Retry-After while it is down, 2xx soon after', async () => {
    const load = startLoad(service!.base, tenants, 'restart');
    let fault = { from: 0, recovered: 0, mustFail: true };
    try {
      await load.warmedUp(tenants.map((t) => t.id));
      await sleep(300);
      const from = performance.now();
      await cluster.stop();
      await sleep(3000);
      // cluster.start() returns once pg_isready says the server accepts connections: the success clock.
      await cluster.start();
      fault = { from, recovered: performance.now(), mustFail: true };
      await sleep(RECOVERY_MS + AFTER_RECOVERY_MS);
    } finally {
      await load.stop();
    }
    await expectSurvived(load, fault);
  });

  it("keeps serving when the service's sessions are terminated under load", async () => {
    const load = startLoad(service!.base, tenants, 'terminate');
    // Sessions that die idle in a pool need not fail any request: only their being killed is required.
    let fault = { from: 0, recovered: 0, mustFail: false };
    let terminated = 0;
    try {
      await load.warmedUp(tenants.map((t) => t.id));
      await sleep(300);
      const from = performance.now();
      const roles = [appRoleName(plane.prefix, 'pg-managed')];
      // A few rounds, so that some sessions die idle in a pool and some in the middle of a statement.
      for (let round = 0; round < 5; round++) {
        const killed = await cluster.query<{ n: number }>(
          'postgres',
          'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = ANY($1)',
          [roles],
        );
        terminated += killed.rows[0]!.n;
        await sleep(150);
      }
      fault = { from, recovered: performance.now(), mustFail: false };
      await sleep(RECOVERY_MS + AFTER_RECOVERY_MS);
    } finally {
      await load.stop();
    }
    expect(terminated, 'sessions terminated').to.be.greaterThan(0);
    await expectSurvived(load, fault);
  });
});

/** The error a promise rejects with; fails the test when it resolves. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** A pg client on the test PostgreSQL (or `url`) whose 'error' events the test does not care about. */
async function connected(url = adminUrlFor('postgres')): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('HTTP answers to a database that went away', () => {
  const logLines: string[] = [];
  let server: Server;
  let base: string;
  /** What the one route of the app throws. */
  let failure: () => Promise<unknown>;
  const limitedRole = `tp_limited_${randomBytes(4).toString('hex')}`;
  const limitedPassword = randomBytes(12).toString('hex');
  let limitedUrl: string;
  const knexes: Knex[] = [];

  before(async () => {
    const app = express();
    app.get('/fail', async (_req, _res, next) => {
      try {
        await failure();
        next(new Error('the route was meant to fail'));
      } catch (error) {
        next(error);
      }
    });
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        callback();
      },
    });
    app.use(errorHandler(createLogger('warn', sink)));
    server = await listen(createServer(app), 0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // A role that may hold no session at all: every login is refused with 53300, like a full server.
    await adminQuery(
      'postgres',
      `CREATE ROLE ${limitedRole} LOGIN CONNECTION LIMIT 0 PASSWORD '${limitedPassword}'`,
    );
    const url = new URL(adminUrlFor('postgres'));
    url.username = limitedRole;
    url.password = limitedPassword;
    limitedUrl = url.toString();
  });

  after(async () => {
    for (const knex of knexes) await knex.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await adminQuery('postgres', `DROP ROLE IF EXISTS ${limitedRole}`);
  });

  /** The app's answer when its route throws what `cause` rejects with. */
  async function answerTo(cause: () => Promise<unknown>) {
    const error = await failureOf(cause());
    failure = () => Promise.reject(error);
    const answer = await callJson(base, undefined, 'GET', '/fail');
    return {
      status: answer.status,
      code: answer.body?.error?.code as string | undefined,
      retryAfter: answer.headers.get('retry-after'),
    };
  }

  function controlKnex(url: string): Knex {
    const knex = connectControlDatabase(url, 2);
    knexes.push(knex);
    return knex;
  }

  it('answers 503 database_unavailable, with Retry-After, for a session terminated mid-statement (57P01)', async () => {
    const client = await connected();
    let terminated: unknown;
    try {
      terminated = await failureOf(client.query('SELECT pg_terminate_backend(pg_backend_pid())'));
    } finally {
      await client.end().catch(() => {});
    }
    expect(await answerTo(() => Promise.reject(terminated))).to.deep.equal({
      status: 503,
      code: 'database_unavailable',
      retryAfter: '1',
    });
    // The original error is kept as the cause, and logged with it.
    expect(logLines.at(-1)).to.include('terminating connection due to administrator command');
    // Also when one of tenantplane's own 500s wraps it: a migration (of a tenant being created) lost its session.
    const migration = new MigrationFailedError('0002_example', ['0001_example'], terminated);
    expect(await answerTo(() => Promise.reject(migration))).to.deep.equal({
      status: 503,
      code: 'database_unavailable',
      retryAfter: '1',
    });
    expect(
      await answerTo(() => Promise.reject(new MigrationFailedError('0002_example', [], new Error('syntax')))),
    ).to.deep.equal({ status: 500, code: 'migration_failed', retryAfter: null });
  });

  it('answers 503 database_unavailable for a refused connection and for a connection cut without a code', async () => {
    const closedPort = await freePort();
    expect(
      await answerTo(() => connected(`postgres://postgres@127.0.0.1:${closedPort}/postgres`)),
    ).to.deep.equal({ status: 503, code: 'database_unavailable', retryAfter: '1' });

    // A server that accepts and hangs up: pg's "Connection terminated unexpectedly" carries no code.
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hangUp.address() as { port: number }).port;
      const error = await failureOf(connected(`postgres://postgres@127.0.0.1:${port}/postgres`));
      expect((error as Error).message).to.equal('Connection terminated unexpectedly');
      expect(await answerTo(() => Promise.reject(error))).to.deep.equal({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '1',
      });
    } finally {
      hangUp.close();
    }

    // Class 08 (connection_exception) as a whole, e.g. 08006 connection_failure.
    const lost = Object.assign(new pg.DatabaseError('connection failure', 0, 'error'), { code: '08006' });
    expect(await answerTo(() => Promise.reject(lost))).to.deep.equal({
      status: 503,
      code: 'database_unavailable',
      retryAfter: '1',
    });
  });

  it('answers 503 database_busy for a server with no free connection slot (53300)', async () => {
    const error = await failureOf(connected(limitedUrl));
    expect((error as { code?: string }).code).to.equal('53300');
    expect(await answerTo(() => Promise.reject(error))).to.deep.equal({
      status: 503,
      code: 'database_busy',
      retryAfter: '1',
    });
  });

  it('answers catalog_unavailable / catalog_busy when the control database is what went away, and drops that connection', async () => {
    const knex = controlKnex(adminUrlFor('postgres'));
    expect(await answerTo(() => knex.raw('SELECT pg_terminate_backend(pg_backend_pid())'))).to.deep.equal({
      status: 503,
      code: 'catalog_unavailable',
      retryAfter: '1',
    });
    // The same in a transaction.
    expect(
      await answerTo(() =>
        knex.transaction((trx) => trx.raw('SELECT pg_terminate_backend(pg_backend_pid())')),
      ),
    ).to.deep.equal({ status: 503, code: 'catalog_unavailable', retryAfter: '1' });
    // The dead connections were discarded: the next statements get live ones.
    for (let i = 0; i < 3; i++) {
      expect((await knex.raw('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    }

    const closedPort = await freePort();
    const unreachable = controlKnex(`postgres://postgres@127.0.0.1:${closedPort}/postgres`);
    expect(await answerTo(() => unreachable.raw('SELECT 1'))).to.deep.equal({
      status: 503,
      code: 'catalog_unavailable',
      retryAfter: '1',
    });
    expect(await answerTo(() => controlKnex(limitedUrl).raw('SELECT 1'))).to.deep.equal({
      status: 503,
      code: 'catalog_busy',
      retryAfter: '1',
    });
  });

  it('still answers 500 for a statement that failed on a healthy connection', async () => {
    const client = await connected();
    try {
      expect(await answerTo(() => client.query('SELEC 1'))).to.deep.equal({
        status: 500,
        code: 'internal_error',
        retryAfter: null,
      });
      expect(await answerTo(() => client.query('SELECT 1 / 0'))).to.deep.equal({
        status: 500,
        code: 'internal_error',
        retryAfter: null,
      });
    } finally {
      await client.end();
    }
    expect(await answerTo(() => Promise.reject(new TypeError('a bug')))).to.deep.equal({
      status: 500,
      code: 'internal_error',
      retryAfter: null,
    });
  });
});

/** A log destination that keeps its lines. */
function logSink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { lines, stream };
}

/** Terminates one session from another connection, while its own client sits idle. */
async function terminate(pid: number): Promise<void> {
  const result = await adminQuery<{ done: boolean }>('postgres', 'SELECT pg_terminate_backend($1) AS done', [
    pid,
  ]);
  expect(result.rows[0]!.done).to.equal(true);
  // pg hears of it on the next turn of the event loop at the earliest: give it time to emit 'error'.
  await sleep(100);
}

async function backendPid(client: pg.ClientBase): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

describe('connections of provisioning, migrations and moves when their session is terminated', () => {
  // An unhandled 'error' event on any of these clients would end this process, failing the test run.

  it('fails the admin work with a 503-class error, and the process stays up', async () => {
    const failure = await failureOf(
      withAdminClient(adminUrlFor('postgres'), async (client) => {
        await terminate(await backendPid(client));
        await client.query('SELECT 1');
      }),
    );
    expect(databaseUnavailableError(failure)?.code, String(failure)).to.equal('database_unavailable');
  });

  it('fails the migration, and the process stays up', async () => {
    const database = `tp_faults_${randomBytes(4).toString('hex')}`;
    await adminQuery('postgres', `CREATE DATABASE ${database}`);
    try {
      const failure = await failureOf(
        migrateDatabase({
          connectionString: adminUrlFor(database),
          ledger: { schema: 'faults', table: 'ledger' },
          migrations: [
            {
              name: '0001_lose_session',
              transactional: false,
              down: undefined,
              async up({ client }) {
                await terminate(await backendPid(client));
              },
            },
          ],
        }),
      );
      expect(failure).to.be.instanceOf(MigrationFailedError);
      expect(databaseUnavailableError(failure)?.code, String(failure)).to.equal('database_unavailable');
    } finally {
      await adminQuery('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });

  it('logs the loss of the move lock, and the process stays up', async () => {
    const tenantId = `lock-${randomBytes(4).toString('hex')}`;
    const { lines, stream } = logSink();
    const lock = await lockTenantMove(adminUrlFor('postgres'), tenantId, {
      logger: createLogger('warn', stream),
    });
    try {
      const holder = await adminQuery<{ pid: number }>(
        'postgres',
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND classid = hashtext('tenantplane.move')::oid AND objid = hashtext($1)::oid`,
        [tenantId],
      );
      expect(holder.rows).to.have.length(1);
      await terminate(holder.rows[0]!.pid);
      const deadline = Date.now() + 2000;
      while (!lines.some((line) => line.includes('lost the move lock')) && Date.now() < deadline) {
        await sleep(20);
      }
      const logged = lines.find((line) => line.includes('lost the move lock'));
      expect(logged, 'the loss is logged').to.be.a('string');
      expect(JSON.parse(logged!)).to.include({ level: 50, tenant: tenantId });
    } finally {
      await lock.release();
    }
  });
});
