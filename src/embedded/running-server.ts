/** Detecting a server that is already running for this cluster. */

import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SQLSTATE } from '../errors/index.js';
import { adminUrl, HOST, type PersistedState, STATE_FILE, USER } from './persisted-state.js';

/**
 * The admin URL of a server already serving `clusterDir`, if there is one: `postmaster.pid` exists and a
 * connection to the port it names succeeds and reports this cluster's data directory. A pid file left by
 * a killed server is left to PostgreSQL (it replaces one whose pid is dead), unless its pid now belongs
 * to an unrelated process, which PostgreSQL would mistake for a running server.
 */
export async function findRunningServer(
  clusterDir: string,
  state: PersistedState,
): Promise<string | undefined> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const lines = await fs.readFile(pidFile, 'utf8').then(
      (text) => text.split('\n'),
      () => undefined,
    );
    if (!lines) return undefined;
    const pid = Number.parseInt(lines[0] ?? '', 10);
    const pidPort = Number.parseInt(lines[3] ?? '', 10);
    const candidate = { ...state, port: Number.isInteger(pidPort) && pidPort > 0 ? pidPort : state.port };
    const connectError = await tryConnect(candidate, clusterDir);
    if (!connectError) return adminUrl(candidate);
    if (connectError.fatal) throw new Error(`${connectError.message} (data folder ${clusterDir})`);
    const alive = Number.isInteger(pid) && pid > 0 ? processState(pid) : 'dead';
    if (alive === 'dead') return undefined; // stale pid file: PostgreSQL replaces it
    if (alive === 'other') {
      await fs.rm(pidFile, { force: true }); // the pid was reused by an unrelated process
      return undefined;
    }
    // A postgres process holds the cluster but does not answer (yet): starting up or shutting down.
    if (Date.now() > deadline) {
      throw new Error(
        `A PostgreSQL process (pid ${pid}) holds ${clusterDir} but does not accept connections on ` +
          `${HOST}:${candidate.port} (${connectError.message}). Stop it, or wait for it to finish starting.`,
      );
    }
    await sleep(250);
  }
}

/** 'dead', 'postgres' (alive and a postgres process) or 'other' (alive, but some other program). */
export function processState(pid: number): 'dead' | 'postgres' | 'other' {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
  }
  try {
    // Linux; elsewhere assume it is PostgreSQL, as PostgreSQL itself would. Sync: a tiny procfs read.
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres' ? 'postgres' : 'other';
  } catch {
    return 'postgres';
  }
}

interface ConnectProblem {
  message: string;
  /** A server answers but is not usable with our credentials: starting another one would not help. */
  fatal: boolean;
}

/** Connects with the admin credentials and runs a query; undefined on success. */
export async function tryConnect(
  state: PersistedState,
  expectedDataDir?: string,
): Promise<ConnectProblem | undefined> {
  const client = new pg.Client({
    host: HOST,
    port: state.port,
    user: USER,
    password: state.password,
    database: 'postgres',
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>(
      "SELECT current_setting('data_directory') AS data_directory",
    );
    if (expectedDataDir) {
      const [actual, expected] = await Promise.all([
        fs.realpath(rows[0]?.data_directory ?? '').catch(() => rows[0]?.data_directory),
        fs.realpath(expectedDataDir).catch(() => expectedDataDir),
      ]);
      if (actual !== expected) {
        return {
          message: `the server on ${HOST}:${state.port} serves ${actual}, not ${expected}`,
          fatal: true,
        };
      }
    }
    return undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === SQLSTATE.invalidPassword || code === SQLSTATE.invalidAuthorizationSpecification) {
      return {
        message: `a server on ${HOST}:${state.port} rejected the password in ${STATE_FILE}: ${(error as Error).message}`,
        fatal: true,
      };
    }
    return { message: (error as Error).message, fatal: false };
  } finally {
    await client.end().catch(() => {});
  }
}
