import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { expect } from 'chai';
import pg from 'pg';
import { shardDatabaseName } from '../src/ids.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

interface Answer {
  status: number;
  body: string;
}

/** One request on a connection of its own (no keep-alive pool that could hide a refused connection). */
function request(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent: false,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface ServeProcess {
  child: ChildProcess;
  base: string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** `tenantctl serve` as a child process on this plane's catalog, on a free port. */
async function startServe(plane: TestPlane, graceMs: number): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    env: plane.cliEnv({ PORT: '0', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: String(graceMs) }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const match = /"port":(\d+)[^\n]*"msg":"tenantplane listening"/.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    exited.then((code) => reject(new Error(`serve exited with ${code} before listening:\n${stderr}`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, stderr: () => stderr, exited };
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

  /** Waits until a session of the service is blocked on the test's lock: the request is truly in flight. */
  async function requestBlockedOnLock(slow: Promise<unknown>): Promise<void> {
    let answered: unknown;
    slow.then((outcome) => {
      answered = outcome;
    });
    for (;;) {
      if (answered) throw new Error(`the request did not wait for the lock: ${JSON.stringify(answered)}`);
      // Asked on a connection of its own: inside the locking transaction pg_stat_activity is a snapshot.
      const waiting = await adminQuery<{ n: number }>(
        'postgres',
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        [shardDatabase],
      );
      if (waiting.rows[0]!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    plane = await createTestPlane();
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-drain', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'slow-co', tier: 'pro' }, TEST_ACTOR);
    const db = await plane.tp.router!.forTenant('slow-co');
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, 'web', 'ready') RETURNING id`,
      [db.tenantId],
    );
    rowId = inserted.rows[0]!.id;
    token = await plane.tp.devIssuer!.mint({ tenantId: 'slow-co' });
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
      await lockRow();
      let settled = false;
      const slow = request(serve.base, 'PATCH', `/api/v1/deployments/${rowId}`, token, {
        status: 'drained',
      }).finally(() => {
        settled = true;
      });
      await requestBlockedOnLock(slow);
      serve.child.kill('SIGTERM');
      await refusedSoon(serve.base);
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
      await requestBlockedOnLock(slow);
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
