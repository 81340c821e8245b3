import { once } from 'node:events';
import net from 'node:net';
import { expect } from 'chai';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { shardDatabaseName } from '../src/ids.js';
import { blockedOnLock, type ChildService, request, startTenantctl } from './support/child-service.js';
import { adminUrlFor, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** `tenantctl serve` as a child process on this plane's catalog, on a free port. */
function startServe(plane: TestPlane, graceMs: number): Promise<ChildService> {
  return startTenantctl(
    ['serve'],
    plane.cliEnv({ PORT: '0', SHUTDOWN_GRACE_MS: String(graceMs) }),
    'tenantplane listening',
  );
}

/**
 * Resolves once a fresh connection to the server is refused. A connection that raced the close (still in
 * the listen backlog) is reset instead: that is not yet the steady state, so it tries again.
 */
async function refusedSoon(base: string): Promise<void> {
  for (;;) {
    try {
      await request(base, 'GET', '/health');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED') return;
      if (code !== 'ECONNRESET') throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A raw connection that made one keep-alive request and now sits idle; `closed` resolves when the server closes it. */
async function idleKeepAliveConnection(base: string): Promise<{ closed: Promise<void> }> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  const closed = once(socket, 'close').then(() => undefined);
  socket.setEncoding('utf8');
  let received = '';
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('"status":"ok"')) resolve();
    });
  });
  socket.write(`GET /health HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`);
  await answered;
  expect(received).to.match(/^HTTP\/1\.1 200/);
  expect(received.toLowerCase()).to.not.include('connection: close');
  return { closed };
}

describe('graceful shutdown of tenantctl serve', function () {
  this.timeout(90000);
  let plane: TestPlane;
  let token: string;
  let rowId: string;
  let locker: pg.Client;
  let shardDatabase: string;

  /** Holds the row lock from outside the service, so that an update of that row waits as long as the test likes. */
  async function lockRow(): Promise<void> {
    await locker.query('BEGIN');
    await locker.query('SELECT id FROM deployments WHERE id = $1 FOR UPDATE', [rowId]);
  }

  before(async () => {
    plane = await createTestPlane();
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-drain', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'slow-co', tier: 'pro' }, TEST_ACTOR);
    const db = await plane.tp.router.forTenant('slow-co');
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, 'web', 'ready') RETURNING id`,
      [db.tenantId],
    );
    rowId = inserted.rows[0]!.id;
    token = await plane.mint({ tenantId: 'slow-co' });
    shardDatabase = shardDatabaseName(plane.prefix, 'shard-drain');
    locker = new pg.Client({ connectionString: adminUrlFor(shardDatabase) });
    await locker.connect();
  });
  afterEach(async () => {
    await locker.query('ROLLBACK');
  });
  after(async () => {
    await locker.end();
    await plane.close();
  });

  it('finishes the request in flight, refuses new connections and exits 0', async () => {
    const serve = await startServe(plane, 30000);
    try {
      expect((await request(serve.base, 'GET', '/ready')).status).to.equal(200);
      const idle = await idleKeepAliveConnection(serve.base);
      await lockRow();
      let settled = false;
      const slow = request(serve.base, 'PATCH', `/api/v1/deployments/${rowId}`, token, {
        status: 'drained',
      }).finally(() => {
        settled = true;
      });
      await blockedOnLock(shardDatabase, slow);
      serve.child.kill('SIGTERM');
      await refusedSoon(serve.base);
      // An idle keep-alive connection is closed by the drain, while the slow request is still in flight.
      await idle.closed;
      expect(settled, 'the slow request must still be waiting on the lock').to.equal(false);

      await locker.query('COMMIT');
      const answer = await slow;
      expect(answer.status, answer.body).to.equal(200);
      expect(JSON.parse(answer.body)).to.include({ id: rowId, status: 'drained' });
      expect(await serve.exited, serve.stderr()).to.equal(0);
      expect(serve.stderr()).to.match(/"msg":"shut down"/);
    } finally {
      serve.child.kill('SIGKILL');
    }
    // Committed by the request that was in flight when the signal came.
    const row = await locker.query('SELECT status FROM deployments WHERE id = $1', [rowId]);
    expect(row.rows[0].status).to.equal('drained');
  });

  it('takes the grace period from SHUTDOWN_GRACE_MS and refuses a bad one at start', () => {
    expect(loadConfig({}).shutdownGraceMs).to.equal(10000);
    expect(loadConfig({ SHUTDOWN_GRACE_MS: '2500' }).shutdownGraceMs).to.equal(2500);
    expect(() => loadConfig({ SHUTDOWN_GRACE_MS: '10s' })).to.throw(/SHUTDOWN_GRACE_MS/);
    expect(() => loadConfig({ SHUTDOWN_GRACE_MS: '-1' })).to.throw(/SHUTDOWN_GRACE_MS/);
  });

  it('answers /ready with 503 once shutdown has begun', async () => {
    const base = await plane.listen();
    expect((await request(base, 'GET', '/ready')).status).to.equal(200);
    plane.tp.draining = true;
    try {
      const ready = await request(base, 'GET', '/ready');
      expect(ready.status).to.equal(503);
      expect(JSON.parse(ready.body)).to.include({ status: 'shutting_down' });
      // Liveness is a different question: the process is still up and must not be restarted.
      expect((await request(base, 'GET', '/health')).status).to.equal(200);
    } finally {
      plane.tp.draining = false;
    }
  });

  it('cuts a request that outlasts SHUTDOWN_GRACE_MS and exits 1', async () => {
    const serve = await startServe(plane, 500);
    try {
      await lockRow();
      const slow = request(serve.base, 'PATCH', `/api/v1/deployments/${rowId}`, token, {
        status: 'too-late',
      }).then(
        (answer) => ({ answer }),
        (error: NodeJS.ErrnoException) => ({ error }),
      );
      await blockedOnLock(shardDatabase, slow);
      serve.child.kill('SIGTERM');
      expect(await serve.exited, serve.stderr()).to.equal(1);
      expect(serve.stderr()).to.match(/grace period over/);
      const outcome = await slow;
      expect(outcome, 'the cut request must fail on the client, not look answered').to.have.property('error');
    } finally {
      serve.child.kill('SIGKILL');
    }
  });
});
