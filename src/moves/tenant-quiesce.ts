import type { Knex } from 'knex';
import type pg from 'pg';
import { type ConfirmationWait, waitForConfirmations } from './instance-confirmations.js';
import { type MoveRecord, pauseTenant } from './move-ledger.js';
import { waitForOlderTransactions } from './writer-drain.js';

export interface QuiesceOptions {
  /** How long to wait for every live serving instance to confirm the pause, in ms. */
  confirmTimeoutMs: number;
  /** How often the confirmations are polled, in ms. */
  confirmPollMs?: number;
  /** How long to wait for the transactions begun before the pause, in ms. */
  drainTimeoutMs: number;
  /** Runs after each wait: throws to stop (a move whose lock was lost). */
  checkpoint?: () => void;
  /** Runs once the pause has committed, before the waits (progress reports). */
  onPaused?: () => Promise<void> | void;
}

/** Where the tenant's rows are while it is quiesced: the database, and the role its requests use. */
export interface QuiescedDatabase {
  /** An admin connection to any database of the server (pg_stat_activity covers them all). */
  admin: pg.Client;
  databaseName: string;
  appRole: string;
}

export interface Quiesced {
  /** performance.now() when the pause committed: the tenant's requests got 503 from then on. */
  pausedAt: number;
  confirmed: ConfirmationWait;
}

/**
 * Pauses the tenant (status `moving`: 503 with Retry-After) and waits until nothing writes its rows any more:
 * every live serving instance has confirmed the pause (it refuses the tenant and re-checks the handles it
 * gave out), and then every transaction of the application role begun before that has ended. What a move
 * (or a restore in place) does from here on sees the tenant's rows as final. A tenant that changed since
 * `move` was read is a conflict (nothing paused).
 */
export async function quiesceTenant(
  knex: Knex,
  move: MoveRecord,
  database: QuiescedDatabase,
  options: QuiesceOptions,
): Promise<Quiesced> {
  const xid = await pauseTenant(knex, move);
  const pausedAt = performance.now();
  await options.onPaused?.();
  const confirmed = await waitForConfirmations(knex, xid, {
    timeoutMs: options.confirmTimeoutMs,
    pollMs: options.confirmPollMs ?? 10,
  });
  options.checkpoint?.();
  await waitForOlderTransactions(
    database.admin,
    database.databaseName,
    database.appRole,
    options.drainTimeoutMs,
  );
  options.checkpoint?.();
  return { pausedAt, confirmed };
}
