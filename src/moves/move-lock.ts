import type { Knex } from 'knex';
import { ConflictError, SQLSTATE, UnavailableError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { LossReportingClient } from '../postgres/connection-loss.js';

/** What every connection a move opens calls itself, so operators can find them in pg_stat_activity. */
export const MOVER_APPLICATION_NAME = 'tenantplane-mover';

/** The code of the error a lost lock aborts its signal with. */
export const MOVE_LOCK_LOST = 'move_lock_lost';

export interface TenantLockOptions {
  logger?: Logger;
  /** How often the lock's connection checks that it still holds the lock, in ms. Default 5000. */
  heartbeatMs?: number;
  /**
   * How long after its holder stopped talking (process gone or frozen, host or network lost) the control
   * database ends the lock's session and so frees the lock, in ms. At least 3 heartbeats. Default 15000.
   */
  staleAfterMs?: number;
}

/**
 * A tenant's move lock, held on a connection of its own to the control database. Whatever changes where or
 * what a tenant serves from (a tier move, a restore in place) holds it, so two never run on one tenant.
 */
export interface TenantLock {
  readonly tenantId: string;
  /**
   * Aborted once the lock may be gone: its connection failed or closed, a heartbeat failed or went
   * unanswered, or the server no longer shows it held. The reason is an UnavailableError `move_lock_lost`
   * (`signal.throwIfAborted()` throws it). release() does not abort it.
   */
  readonly signal: AbortSignal;
  /**
   * Throws unless the lock's session still holds the lock, as pg_locks shows it now (readable by any role).
   * Run it inside the transaction that commits the work, on the control database, so work whose lock was
   * lost never commits. Throws the signal's reason once lost (and aborts the signal if this finds it lost).
   */
  assertHeld(db: Knex): Promise<void>;
  /** Ends the lock's session, which frees the lock. Never throws. */
  release(): Promise<void>;
}

const DEFAULT_HEARTBEAT_MS = 5000;
const DEFAULT_STALE_AFTER_MS = 15000;

/** The lock's row in pg_locks: a session advisory lock on two int4 keys shows as classid, objid, objsubid 2. */
const LOCK_ROW = `locktype = 'advisory' AND granted AND objsubid = 2
  AND classid = hashtext('tenantplane.move')::oid AND objid = hashtext($1)::oid`;

/**
 * The server-side settings of the lock's session: an idle session is ended after `staleAfterMs` (the
 * heartbeat keeps a live holder's busy), and TCP keepalives and the user timeout end it about as soon when
 * the network to its holder is gone. All are settable by any role; idle_session_timeout needs PostgreSQL 14.
 */
function sessionSettings(staleAfterMs: number): [string, number][] {
  const seconds = Math.max(3, Math.floor(staleAfterMs / 1000));
  const idle = Math.max(1, Math.floor(seconds / 3));
  return [
    ['tcp_keepalives_idle', idle],
    ['tcp_keepalives_interval', Math.max(1, Math.floor((seconds - idle) / 2))],
    ['tcp_keepalives_count', 2],
    ['tcp_user_timeout', staleAfterMs],
    ['idle_session_timeout', staleAfterMs],
  ];
}

/**
 * Takes a session advisory lock on the control database for one tenant, or throws ConflictError
 * `move_in_progress` when another session holds it.
 *
 * The lock cannot be lost silently. Its connection is watched: a connection error, a heartbeat (every
 * `heartbeatMs`) that fails, goes unanswered for a heartbeat period, or finds the lock no longer held,
 * aborts `signal` and is logged. And it cannot outlive its holder for long: the session is ended by the
 * server once idle for `staleAfterMs`, so a holder that vanished or froze frees the lock within that time,
 * which is what lets the next attempt treat a leftover move record as abandoned.
 */
export async function lockTenantMove(
  controlDatabaseUrl: string,
  tenantId: string,
  options: TenantLockOptions = {},
): Promise<TenantLock> {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  if (!(heartbeatMs > 0) || staleAfterMs < 3 * heartbeatMs) {
    throw new RangeError(
      `the move lock's staleAfterMs (${staleAfterMs}) must be at least 3 heartbeats (${heartbeatMs} ms)`,
    );
  }
  const settings = sessionSettings(staleAfterMs);
  const client = new LossReportingClient({
    connectionString: controlDatabaseUrl,
    connectionTimeoutMillis: 10000,
    application_name: MOVER_APPLICATION_NAME,
    keepAlive: true,
    keepAliveInitialDelayMillis: (settings[0]![1] as number) * 1000,
  });
  const controller = new AbortController();
  let held = false;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  let ended: Promise<void> | undefined;
  const end = () => {
    ended ??= client.end().catch(() => {});
    return ended;
  };

  const lose = (why: string, cause?: unknown) => {
    if (!held || released || controller.signal.aborted) return;
    held = false;
    clearTimeout(timer);
    const message = `lost the move lock of tenant ${tenantId}: ${why}`;
    const error = new UnavailableError(message, MOVE_LOCK_LOST, { cause, retryAfterSeconds: 1 });
    // Another process may take the lock from now on: whatever ran under it must stop, and an operator
    // should hear of it.
    if (options.logger) options.logger.error({ tenant: tenantId, err: cause ?? error }, message);
    else {
      const detail = cause instanceof Error ? `: ${cause.message}` : '';
      process.emitWarning(`${message}${detail}`, { code: 'TENANTPLANE_MOVE_LOCK_LOST' });
    }
    controller.abort(error);
    // A session the server still keeps (a heartbeat that was only slow) must not go on holding the lock.
    void end();
  };
  // The listeners also keep the lost connection's 'error' from taking the process down.
  client.on('error', (error) => lose('its connection to the control database failed', error));
  client.on('end', () => lose('its connection to the control database closed'));

  let pid: number;
  let database: string;
  await client.connect();
  try {
    for (const [name, value] of settings) {
      try {
        await client.query(`SET ${name} = ${value}`);
      } catch (error) {
        // Before PostgreSQL 14 there is no idle_session_timeout: the keepalives are all that is left.
        if ((error as { code?: string }).code !== SQLSTATE.undefinedObject) throw error;
        options.logger?.warn(
          { tenant: tenantId, setting: name },
          'the control database cannot expire a stale move lock by this setting',
        );
      }
    }
    const { rows } = await client.query<{ locked: boolean; pid: number; database: string }>(
      `SELECT pg_try_advisory_lock(hashtext('tenantplane.move'), hashtext($1)) AS locked,
              pg_backend_pid() AS pid,
              (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database`,
      [tenantId],
    );
    if (!rows[0]?.locked) {
      throw new ConflictError(`tenant ${tenantId} is already being moved or restored`, 'move_in_progress');
    }
    ({ pid, database } = rows[0]);
  } catch (error) {
    await end();
    throw error;
  }
  held = true;

  const beat = async () => {
    const deadline = setTimeout(
      () => lose(`its heartbeat got no answer within ${heartbeatMs} ms`),
      heartbeatMs,
    );
    deadline.unref();
    try {
      const { rows } = await client.query<{ held: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE ${LOCK_ROW} AND pid = pg_backend_pid()) AS held`,
        [tenantId],
      );
      if (!rows[0]?.held) lose('the control database no longer shows it held');
    } catch (error) {
      lose('its heartbeat failed', error);
    } finally {
      clearTimeout(deadline);
    }
    if (held && !released) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void beat(), heartbeatMs);
    // The lock never keeps a process alive by itself (its connection does, until released).
    timer.unref();
  };
  schedule();

  return {
    tenantId,
    signal: controller.signal,
    async assertHeld(db) {
      controller.signal.throwIfAborted();
      if (released) throw new Error(`the move lock of tenant ${tenantId} was released`);
      const result = await db.raw<{ rows: unknown[] }>(
        `SELECT 1 FROM pg_locks WHERE ${LOCK_ROW.replace('$1', '?')} AND pid = ? AND database = ?::oid`,
        [tenantId, pid, database],
      );
      if (result.rows.length === 0) lose('the control database no longer shows it held');
      controller.signal.throwIfAborted();
    },
    async release() {
      released = true;
      clearTimeout(timer);
      await end();
    },
  };
}
