import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { queryOnce } from './query-once.js';
import { createTestCertificates, type TestCertificates } from './test-certificates.js';
import { createTestCluster, type TestCluster } from './test-cluster.js';

const run = promisify(execFile);

/**
 * A test cluster that accepts TLS connections only: `ssl = on` with a certificate for 127.0.0.1 and
 * localhost signed by a CA of the test's own (it also listens on 127.0.0.2, a name its certificate lacks), and a pg_hba.conf whose TCP rules are all `hostssl`, with
 * `hostnossl ... reject` so a plaintext connection is refused. Client certificates signed by the same CA are
 * verified (and show in pg_stat_ssl.client_dn) but not required.
 */
export interface TlsCluster {
  cluster: TestCluster;
  certificates: TestCertificates;
  port: number;
  /**
   * `postgres://user:password@<host>:<port>/<database>?<params>`; `params` default to verify-full against
   * the test CA.
   */
  url(
    user: string,
    password: string,
    database?: string,
    params?: Record<string, string>,
    host?: string,
  ): string;
  /** Query parameters that verify the server fully against the test CA. */
  verifyFull: Record<string, string>;
  /** One statement as the cluster's superuser over verified TLS. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    database: string,
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

async function postgresOwner(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function createTlsCluster(): Promise<TlsCluster> {
  const certificates = await createTestCertificates();
  let cluster: TestCluster | undefined;
  try {
    cluster = await createTestCluster();
    const { uid, gid } = await postgresOwner();
    // PostgreSQL refuses a key file that others may read, or that its own user does not own.
    const keyFile = path.join(certificates.directory, 'postgres-server.key');
    await copyFile(certificates.serverKeyFile, keyFile);
    await chown(keyFile, uid, gid);
    await chmod(keyFile, 0o600);
    const settings: Array<[string, string]> = [
      ['ssl', 'on'],
      ['ssl_cert_file', certificates.serverCertFile],
      ['ssl_key_file', keyFile],
      ['ssl_ca_file', certificates.caFile],
      ['listen_addresses', '127.0.0.1,127.0.0.2'],
    ];
    for (const [name, value] of settings) {
      await cluster.query('postgres', `ALTER SYSTEM SET ${name} = ${pg.escapeLiteral(value)}`);
    }
    const hbaFile = (await cluster.query<{ hba_file: string }>('postgres', 'SHOW hba_file')).rows[0]!
      .hba_file;
    await writeFile(
      hbaFile,
      [
        'local all all peer',
        'hostssl all all 127.0.0.0/8 scram-sha-256',
        'hostssl all all ::1/128 scram-sha-256',
        'hostnossl all all 0.0.0.0/0 reject',
        'hostnossl all all ::/0 reject',
        '',
      ].join('\n'),
    );
    // listen_addresses takes a restart.
    await cluster.stop();
    await cluster.start();
  } catch (error) {
    await cluster?.drop().catch(() => {});
    await certificates.remove();
    throw error;
  }
  const { port } = cluster;
  const verifyFull = { sslmode: 'verify-full', sslrootcert: certificates.caFile };
  const url: TlsCluster['url'] = (
    user,
    password,
    database = 'postgres',
    params = verifyFull,
    host = '127.0.0.1',
  ) => {
    const built = new URL(`postgres://127.0.0.1:${port}/${database}`);
    built.hostname = host;
    built.username = user;
    built.password = password;
    for (const [name, value] of Object.entries(params)) built.searchParams.set(name, value);
    return built.toString();
  };
  const superuser = new URL(cluster.superuserUrl());
  const ca = await readFile(certificates.caFile, 'utf8');
  const connection = (database: string): pg.ClientConfig => ({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: decodeURIComponent(superuser.password),
    database,
    ssl: { ca },
  });
  const tlsCluster: TlsCluster = {
    cluster,
    certificates,
    port,
    url,
    verifyFull,
    query: (database, text, values = []) => queryOnce(connection(database), text, values),
    async drop() {
      await cluster.drop().catch(() => {});
      await certificates.remove();
    },
  };
  // Started once pg_isready answers; wait until a verified TLS connection works too.
  for (let attempt = 0; ; attempt += 1) {
    try {
      await tlsCluster.query('postgres', 'SELECT 1');
      break;
    } catch (error) {
      if (attempt > 100) {
        await tlsCluster.drop();
        throw error;
      }
      await sleep(50);
    }
  }
  return tlsCluster;
}
