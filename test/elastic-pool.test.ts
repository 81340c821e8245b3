import { expect } from 'chai';
import { createLogger } from '../src/logging/logger.js';
import { ElasticPool, type PooledClient, type PoolTarget } from '../src/routing/elastic-pool.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { adminQuery } from './support/test-plane.js';

const url = new URL(TEST_POSTGRES_URL);
const APPLICATION_NAME = `elastic-pool-test-${process.pid}`;

function target(index: number, budget = 4): PoolTarget {
  return {
    databaseId: `db-${index}`,
    databaseName: url.pathname.slice(1) || 'postgres',
    serverId: 'local',
    poolSize: 2,
    serverBudget: budget,
  };
}

/** Sessions of this test's pool that the server has. */
async function serverSessions(): Promise<number> {
  const result = await adminQuery<{ n: number }>(
    'postgres',
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
    [APPLICATION_NAME],
  );
  return result.rows[0]!.n;
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('elastic pool', () => {
  let pool: ElasticPool;

  beforeEach(() => {
    pool = new ElasticPool({
      credentials: async () => ({ host: url.hostname, port: Number(url.port || 5432), user: url.username }),
      logger: createLogger('silent'),
      applicationName: APPLICATION_NAME,
    });
  });
  afterEach(async () => pool.close());

  /** One idle connection to each of `count` databases. */
  async function idleConnections(count: number): Promise<void> {
    const clients: PooledClient[] = [];
    for (let i = 0; i < count; i++) clients.push(await pool.connect(target(i)));
    for (const client of clients) client.release();
  }

  it('closes only the excess when a lowered share is set again before the closings are done', async () => {
    await idleConnections(4);
    pool.setShare(500_000);
    pool.setShare(500_000);
    await until(() => pool.openOn('local') === 2, 'the excess to close');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pool.openOn('local')).to.equal(2);
    expect(await serverSessions()).to.equal(2);
  });

  it('discards an idle connection whose session was terminated, and serves the next request on a new one', async () => {
    await idleConnections(1);
    const killed = await adminQuery<{ n: number }>(
      'postgres',
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [APPLICATION_NAME],
    );
    expect(killed.rows[0]!.n).to.equal(1);
    await until(() => pool.openOn('local') === 0, 'the dead connection to be dropped');
    const client = await pool.connect(target(0));
    try {
      expect((await client.query('SELECT 1 AS one')).rows).to.deep.equal([{ one: 1 }]);
    } finally {
      client.release();
    }
  });

  it('never reuses a connection handed back with an error', async () => {
    const first = await pool.connect(target(0));
    const pid = (await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    first.release(new Error('the session state is unknown'));
    const second = await pool.connect(target(0));
    try {
      const again = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      expect(again).not.to.equal(pid);
    } finally {
      second.release();
    }
    await until(async () => (await serverSessions()) === 1, 'the discarded session to end');
  });

  it('holds no connection once its lease has lapsed', async () => {
    let validUntil = Number.POSITIVE_INFINITY;
    const leased = new ElasticPool({
      credentials: async () => ({ host: url.hostname, port: Number(url.port || 5432), user: url.username }),
      logger: createLogger('silent'),
      applicationName: APPLICATION_NAME,
      acquireTimeoutMs: 200,
      lease: { id: 'test', validUntil: () => validUntil },
    });
    try {
      const client = await leased.connect(target(0));
      client.release();
      expect(leased.openOn('local')).to.equal(1);
      validUntil = 0;
      // The idle connection is reused (no new one is opened), but handed back it is closed.
      const again = await leased.connect(target(0));
      again.release();
      await until(() => leased.openOn('local') === 0, 'the connection to close');
      const refused = await leased.connect(target(1)).then(
        () => 'connected',
        (error: { code?: string }) => error.code,
      );
      expect(refused).to.equal('pool_exhausted');
    } finally {
      await leased.close();
    }
  });
});
