import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { freePort } from './free-port.js';
import { queryOnce } from './query-once.js';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of the test's own (Debian's pg_createcluster), so a test may stop, start and
 * disturb it without touching the machine's cluster on 5432. Needs root, like the other cluster tools.
 */
export interface TestCluster {
  version: string;
  name: string;
  port: number;
  /** `postgres://user:password@127.0.0.1:<port>/<database>` */
  url(user: string, password: string, database?: string): string;
  /** A URL for the cluster's superuser `postgres`. */
  superuserUrl(database?: string): string;
  /** One statement as the superuser, on a connection of its own. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    database: string,
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** `pg_ctlcluster stop -m fast`: every session is terminated (57P01) and the server shuts down. */
  stop(): Promise<void>;
  /** `pg_ctlcluster start`; resolves once `pg_isready` says it accepts connections. */
  start(): Promise<void>;
  /** `pg_isready` against the cluster: 0 is accepting connections. */
  isReady(): Promise<boolean>;
  /** `pg_dropcluster --stop`: the cluster and its files are gone. */
  drop(): Promise<void>;
}

/** The newest PostgreSQL major version installed under /usr/lib/postgresql. */
async function installedVersion(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql')).filter((name) => /^\d+$/.test(name));
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('no PostgreSQL server is installed under /usr/lib/postgresql');
  return newest;
}

/** Creates and starts a cluster with password (scram) authentication over TCP on a free port. */
export async function createTestCluster(): Promise<TestCluster> {
  let lastError: Error | undefined;
  // A port found free can be taken before the cluster binds it; a few fresh ports make that harmless.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      return await createClusterOnce();
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error('no attempt made');
}

async function createClusterOnce(): Promise<TestCluster> {
  const version = await installedVersion();
  const name = `tp_test_${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const superuserPassword = randomBytes(12).toString('hex');
  // initdb runs as the postgres user, so the password file must be readable by it.
  const directory = await mkdtemp(path.join(os.tmpdir(), 'tp-cluster-'));
  await chmod(directory, 0o755);
  const pwfile = path.join(directory, 'pw');
  await writeFile(pwfile, `${superuserPassword}\n`, { mode: 0o644 });
  try {
    await run('pg_createcluster', [
      version,
      name,
      '-p',
      String(port),
      // Only the cluster's own crash safety is at stake, not the data's: a fast shutdown still checkpoints.
      '-o',
      'fsync=off',
      '--',
      '--auth-host=scram-sha-256',
      '--auth-local=peer',
      `--pwfile=${pwfile}`,
    ]);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  const url = (user: string, password: string, database = 'postgres') =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const isReady = async () => {
    try {
      await run('pg_isready', ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '1']);
      return true;
    } catch {
      return false;
    }
  };
  const cluster: TestCluster = {
    version,
    name,
    port,
    url,
    superuserUrl: (database = 'postgres') => url('postgres', superuserPassword, database),
    query: (database, text, values = []) =>
      queryOnce({ connectionString: cluster.superuserUrl(database) }, text, values),
    async stop() {
      await run('pg_ctlcluster', [version, name, 'stop', '-m', 'fast']);
    },
    async start() {
      await run('pg_ctlcluster', [version, name, 'start']);
      while (!(await isReady())) await new Promise((resolve) => setTimeout(resolve, 20));
    },
    isReady,
    async drop() {
      await run('pg_dropcluster', ['--stop', version, name]);
    },
  };
  try {
    await cluster.start();
  } catch (error) {
    await cluster.drop().catch(() => {});
    throw error;
  }
  return cluster;
}
