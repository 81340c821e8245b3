import type pg from 'pg';
import { describeConnectFailure, parseServerUrl, serverClientConfig } from '../catalog/connection-config.js';
import { SQLSTATE, UnavailableError } from '../errors/index.js';
import { quoteIdent } from '../ids.js';
import { LossReportingClient } from '../postgres/connection-loss.js';

/**
 * Runs `fn` on a short-lived admin connection to the server `url` names (with the URL's TLS settings, see
 * connection-config.ts), closed whatever happens.
 */
export async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new LossReportingClient({
    ...(await serverClientConfig(url)),
    connectionTimeoutMillis: 5000,
  });
  // A session the server drops (a restart, pg_terminate_backend) fails the statement in flight, or the next
  // one, and the client is ended below; without a listener its 'error' event would end the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new UnavailableError(
      `cannot connect to the server: ${describeConnectFailure(error, parseServerUrl(url).tls)}`,
      'server_unreachable',
      {
        cause: error,
      },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return result.rowCount === 1;
}

/** Creates the database unless it exists; returns whether this call created it. */
export async function createDatabaseIfMissing(client: pg.Client, name: string): Promise<boolean> {
  if (await databaseExists(client, name)) return false;
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    return true;
  } catch (error) {
    // A concurrent create of the same tenant got there first.
    if ((error as { code?: string }).code === SQLSTATE.duplicateDatabase) return false;
    throw error;
  }
}

/** How long a drop waits for sessions the admin role may not end (see dropDatabaseIfExists). */
const DROP_WAIT_MS = 10000;

/**
 * Drops the database, disconnecting anyone still on it. An admin role that may not end other roles'
 * sessions (a plain role, as on managed PostgreSQL, without pg_signal_backend or membership of the
 * application role) cannot force the application role's out: the drop is then tried again as long as
 * such sessions remain, for up to 10 s. Routers close their pool of a database once its tenant is deleted
 * or has moved, so they go within a second or two.
 */
export async function dropDatabaseIfExists(client: pg.Client, name: string): Promise<void> {
  const deadline = performance.now() + DROP_WAIT_MS;
  for (;;) {
    try {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      return;
    } catch (error) {
      if (
        (error as { code?: string }).code !== SQLSTATE.insufficientPrivilege ||
        performance.now() >= deadline
      ) {
        throw error;
      }
      // Anything but others' sessions (not the database's owner, say) is not worth waiting for.
      const others = await client.query(
        'SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND usename <> current_user LIMIT 1',
        [name],
      );
      if (others.rowCount === 0) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
