import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/support/free-port.js';
import { waitForExit } from '../lib/proc.js';
import type { ServerCredentials } from './setup.js';

/** The PgBouncer binary: on PATH, or where Debian's package puts it. */
export function findPgbouncer(): string {
  const candidates = [
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'pgbouncer')),
    '/usr/sbin/pgbouncer',
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    'pgbouncer is not installed (neither on PATH nor /usr/sbin/pgbouncer): install the Debian package ' +
      '`pgbouncer` (apt-get install -y pgbouncer), PgBouncer 1.18 or later',
  );
}

export interface PgbouncerOptions {
  /** The application role and the PostgreSQL server it logs in to. */
  credentials: ServerCredentials;
  /** Server connections PgBouncer may hold in all (max_user_connections: every pool logs in as one role). */
  maxServerConnections: number;
  /** Server connections per database (default_pool_size and max_db_connections). */
  poolSize: number;
  /** Where PgBouncer's output goes (appended). */
  logFile: string;
  /**
   * Databases whose server connections are bound to one tenant (database name → tenant id): each gets an
   * entry of its own whose `connect_query` sets `tenantplane.tenant_id` for the session, as tenantplane's
   * router binds its connections to a dedicated database's tenant with a startup option (which PgBouncer
   * does not pass on).
   */
  boundDatabases?: Record<string, string>;
}

export interface Pgbouncer {
  pid: number | undefined;
  host: string;
  port: number;
  /** The generated configuration, as written. */
  ini: string;
  logFile: string;
  stop(): Promise<void>;
}

/** Every PgBouncer started and not yet stopped, so that cleanup (or Ctrl-C) can stop them. */
const running = new Set<() => Promise<void>>();

export async function stopAllPgbouncers(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

/** uid and gid of a local user from /etc/passwd. */
function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith(`${name}:`));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

/** Names PgBouncer's configuration takes unquoted, as slugs and tenantplane's database names are. */
const PLAIN = /^[0-9A-Za-z_.-]+$/;

function ini(options: PgbouncerOptions, port: number, authFile: string): string {
  const { credentials } = options;
  const server = `host=${credentials.host} port=${credentials.port}`;
  const bound = Object.entries(options.boundDatabases ?? {}).map(([database, tenant]) => {
    if (!PLAIN.test(database) || !PLAIN.test(tenant)) {
      throw new Error(`cannot write ${database} (${tenant}) into PgBouncer's configuration`);
    }
    // Dollar quotes inside the connect string's single quotes: no quote to escape in either.
    return `${database} = ${server} connect_query='SELECT set_config($$tenantplane.tenant_id$$, $$${tenant}$$, false)'`;
  });
  return `;; written by bench:fleet for one run
[databases]
;; a dedicated database: every server connection is bound to its tenant when it is opened
${bound.join('\n')}
;; every other database of the server (the shards), under its own name
* = ${server}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${authFile}
pool_mode = transaction
max_client_conn = 5000
;; every server connection logs in as the application role, so this caps them all together; when it is
;; reached PgBouncer closes the longest-idle connection of another database's pool to open one here
max_user_connections = ${options.maxServerConnections}
default_pool_size = ${options.poolSize}
max_db_connections = ${options.poolSize}
min_pool_size = 0
reserve_pool_size = 0
server_idle_timeout = 30
server_lifetime = 3600
server_connect_timeout = 5
server_login_retry = 1
query_wait_timeout = 10
ignore_startup_parameters = extra_float_digits,application_name
log_connections = 0
log_disconnections = 0
stats_period = 60
`;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts PgBouncer as a child process on a free loopback port with a configuration of its own in a fresh
 * temporary folder (removed again by stop()); its output goes to `options.logFile`. PgBouncer refuses to run as root: then it runs as `postgres`
 * (or `nobody`) through its `-u` option, and the folder is handed to that user.
 */
export async function startPgbouncer(options: PgbouncerOptions): Promise<Pgbouncer> {
  const binary = findPgbouncer();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-pgbouncer-'));
  const port = await freePort();
  const authFile = path.join(dir, 'userlist.txt');
  const iniFile = path.join(dir, 'pgbouncer.ini');
  const { logFile } = options;
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  await writeFile(authFile, `${quote(options.credentials.user)} ${quote(options.credentials.password)}\n`, {
    mode: 0o600,
  });
  const config = ini(options, port, authFile);
  await writeFile(iniFile, config, { mode: 0o600 });

  const args = [iniFile];
  if (process.getuid?.() === 0) {
    const user = userIds('postgres') ? 'postgres' : 'nobody';
    const ids = userIds(user);
    if (!ids) throw new Error('pgbouncer will not run as root, and neither user postgres nor nobody exists');
    await chmod(dir, 0o700);
    for (const file of [dir, authFile, iniFile]) await chown(file, ids.uid, ids.gid);
    args.unshift('-u', user);
  }
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const tail = () => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      running.delete(stop);
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM is PgBouncer's immediate shutdown; its server connections close with it.
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 5000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5000);
        }
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  running.add(stop);

  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const output = tail();
      await stop();
      throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}) at start:\n${output}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      const output = tail();
      await stop();
      throw new Error(`pgbouncer did not listen on ${port} within 10 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { pid: child.pid, host: '127.0.0.1', port, ini: config, logFile, stop };
}
