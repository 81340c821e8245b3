import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { ConflictError, UnavailableError } from '../errors/index.js';

const POLL_MS = 25;

/**
 * Waits until every transaction of the application role on a database that began before this call has
 * ended. With routers already refusing the tenant, what is left are the requests that were in flight when it
 * was paused; once they are gone, nothing can still write the tenant's rows there.
 *
 * `admin` is an admin connection (any database on the server). Returns how many transactions it waited for.
 */
export async function waitForOlderTransactions(
  admin: pg.Client,
  databaseName: string,
  appRole: string,
  timeoutMs: number,
): Promise<number> {
  // As text: a JS Date would round the cutoff to the millisecond.
  const cutoff = (await admin.query<{ now: string }>('SELECT clock_timestamp()::text AS now')).rows[0]!.now;
  const deadline = Date.now() + timeoutMs;
  let waitedFor = 0;
  for (;;) {
    const { rows } = await admin.query<{ hidden: number; older: number }>(
      `SELECT count(*) FILTER (WHERE state IS NULL)::int AS hidden,
              count(*) FILTER (WHERE xact_start < $3::timestamptz)::int AS older
         FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND backend_type = 'client backend'`,
      [databaseName, appRole, cutoff],
    );
    const { hidden, older } = rows[0]!;
    if (hidden > 0) {
      // Without the right to see other roles' sessions the wait would pass without waiting.
      throw new ConflictError(
        `the admin role cannot see ${appRole}'s sessions: grant it pg_read_all_stats (or membership in ${appRole})`,
        'insufficient_privileges',
      );
    }
    waitedFor = Math.max(waitedFor, older);
    if (older === 0) return waitedFor;
    if (Date.now() >= deadline) {
      throw new UnavailableError(
        `${older} transaction(s) on ${databaseName} still open after ${timeoutMs} ms`,
        'move_drain_timeout',
        { retryAfterSeconds: 5 },
      );
    }
    await sleep(POLL_MS);
  }
}

/** Waits (up to `timeoutMs`) until the application role holds no connection to a database; true if none. */
export async function waitForNoConnections(
  admin: pg.Client,
  databaseName: string,
  appRole: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await admin.query<{ open: number }>(
      'SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = $1 AND usename = $2',
      [databaseName, appRole],
    );
    if (rows[0]!.open === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS * 4);
  }
}
