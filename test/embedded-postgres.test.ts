import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/embedded/embedded-postgres.js';
import { SQLSTATE } from '../src/errors/index.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

describe('embedded PostgreSQL', function () {
  this.timeout(120000);

  let dataDir: string;
  let started: EmbeddedPostgres[];

  /** Starts a server and remembers it, so that afterEach stops it whatever the test did. */
  async function start(options: { port?: number } = {}): Promise<EmbeddedPostgres> {
    const server = await startEmbeddedPostgres({ dataDir, ...options });
    started.push(server);
    return server;
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-embedded-pg-'));
    started = [];
  });

  afterEach(async () => {
    for (const server of started.reverse()) await server.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  it('initialises a cluster on first start and serves the admin URL', async () => {
    const server = await start();
    expect(server.owned).to.equal(true);
    expect(server.url).to.match(/^postgres:\/\/postgres:[0-9a-f]+@127\.0\.0\.1:\d+\/postgres$/);
    expect(await query(server.url, 'SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
    expect(await query(server.url, 'SHOW listen_addresses')).to.deep.equal([
      { listen_addresses: '127.0.0.1' },
    ]);
    expect(await query(server.url, 'SHOW server_encoding')).to.deep.equal([{ server_encoding: 'UTF8' }]);

    const stateFile = path.join(dataDir, 'embedded-postgres.json');
    expect((await stat(stateFile)).mode & 0o777).to.equal(0o600);
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { port: number; password: string };
    expect(server.url).to.equal(`postgres://postgres:${state.password}@127.0.0.1:${state.port}/postgres`);
    expect((await stat(path.join(dataDir, 'postgres', 'PG_VERSION'))).isFile()).to.equal(true);
    await stat(path.join(dataDir, 'embedded-postgres.lock')).then(
      () => expect.fail('the lock file should be gone after start'),
      () => {},
    );

    const wrongPassword = new URL(server.url);
    wrongPassword.password = 'wrong';
    let rejected: unknown;
    await query(wrongPassword.toString(), 'SELECT 1').catch((error: unknown) => {
      rejected = error;
    });
    expect((rejected as { code?: string } | undefined)?.code).to.equal(SQLSTATE.invalidPassword);
  });

  it('reuses the data folder and the port after a clean stop', async () => {
    const first = await start();
    await query(first.url, 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)');
    await first.stop();
    await first.stop(); // idempotent
    const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
    await stat(pidFile).then(
      () => expect.fail('a clean stop removes postmaster.pid'),
      () => {},
    );

    const second = await start();
    expect(second.owned).to.equal(true);
    expect(second.url).to.equal(first.url);
    expect(await query(second.url, 'SELECT id FROM kept')).to.deep.equal([{ id: 42 }]);
  });

  it('joins a server that is already running for the data folder instead of starting another', async () => {
    const owner = await start();
    const joiner = await start();
    expect(joiner.owned).to.equal(false);
    expect(joiner.url).to.equal(owner.url);
    expect(await query(joiner.url, 'SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
    await joiner.stop(); // does not stop the owner's server
    expect(await query(owner.url, 'SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
  });

  it('lets exactly one of two concurrent starts on a fresh folder own the server', async () => {
    const servers = await Promise.all([start(), start()]);
    expect(servers.map((server) => server.owned).sort()).to.deep.equal([false, true]);
    expect(servers[0]!.url).to.equal(servers[1]!.url);
    expect(await query(servers[0]!.url, 'SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
  });

  it('starts after the previous server was killed with SIGKILL', async () => {
    const first = await start();
    await query(first.url, 'CREATE TABLE survivor (id int); INSERT INTO survivor VALUES (7)');
    const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
    const pid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0]!, 10);
    expect(pid).to.be.greaterThan(0);
    process.kill(pid, 'SIGKILL');
    for (let waited = 0; isAlive(pid); waited += 50) {
      if (waited > 10000) expect.fail(`postmaster ${pid} did not die`);
      await sleep(50);
    }
    expect((await stat(pidFile)).isFile(), 'the killed server leaves its pid file behind').to.equal(true);

    const second = await start();
    expect(second.owned).to.equal(true);
    expect(second.url).to.equal(first.url);
    expect(await query(second.url, 'SELECT id FROM survivor')).to.deep.equal([{ id: 7 }]);
    await first.stop(); // the killed server's handle must not hang
    expect(await query(second.url, 'SELECT 1 AS one')).to.deep.equal([{ one: 1 }]);
  });

  it('fails with PostgreSQL output in the error when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      let failure: unknown;
      await start({ port }).catch((error: unknown) => {
        failure = error;
      });
      expect(failure).to.be.instanceOf(Error);
      expect((failure as Error).message)
        .to.include('failed to start')
        .and.to.include('the port is taken')
        .and.to.include(`127.0.0.1:${port}`)
        .and.to.include('Last PostgreSQL output');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
