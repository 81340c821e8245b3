/** Initialising the cluster on first start. */

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import { loadLibrary } from './library-loader.js';
import type { OutputTail } from './output-tail.js';
import { HOST, type PersistedState, USER, writeState } from './persisted-state.js';
import type { PostgresUser } from './postgres-user.js';

/**
 * Runs initdb into a scratch folder and renames it into place, so that `<dataDir>/postgres` only ever
 * holds a complete cluster, and writes the state file (password, port) before the rename.
 */
export async function initialiseCluster(
  dataDir: string,
  clusterDir: string,
  port: number | undefined,
  pgUser: PostgresUser | undefined,
  output: OutputTail,
): Promise<PersistedState> {
  if (await fileExists(clusterDir)) {
    const entries = await fs.readdir(clusterDir);
    if (entries.length > 0) {
      throw new Error(
        `${clusterDir} exists but holds no PostgreSQL cluster (PG_VERSION is missing). ` +
          'Move it away or delete it, and start again to initialise a new cluster.',
      );
    }
    await fs.rmdir(clusterDir);
  }
  const scratchDir = `${clusterDir}.initdb`;
  await fs.rm(scratchDir, { recursive: true, force: true }); // left by an interrupted initdb; we hold the lock
  await fs.mkdir(scratchDir, { mode: 0o700 });
  if (pgUser) await fs.chown(scratchDir, pgUser.uid, pgUser.gid);

  const state: PersistedState = {
    port: port ?? (await pickFreePort()),
    password: randomBytes(24).toString('hex'),
  };
  const Library = await loadLibrary();
  const initializer = new Library({
    databaseDir: scratchDir,
    port: state.port,
    user: USER,
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-instructions'],
    onLog: (message) => output.push(message),
    onError: (error) => output.push(error instanceof Error ? error.message : String(error)),
  });
  output.reset();
  try {
    await initializer.initialise();
  } catch (error) {
    await fs.rm(scratchDir, { recursive: true, force: true }).catch(() => {});
    const reason = (error as Error).message?.split('ERROR OUTPUT:')[0]?.trim() ?? String(error);
    throw new Error(
      `initdb failed for the embedded PostgreSQL in ${clusterDir}: ${reason}${output.describe()}`,
    );
  }
  await writeState(dataDir, state);
  await fs.rename(scratchDir, clusterDir);
  return state;
}

function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

export async function fileExists(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}
