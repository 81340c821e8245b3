import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { UnavailableError } from '../errors/index.js';

export interface ConfirmationWait {
  /** How long the wait took, in ms. */
  waitedMs: number;
  /** Live serving instances that had not yet confirmed when the wait began. */
  waitedFor: number;
}

/** Serve instances whose lease still holds by the control database's clock. */
const LIVE_SERVE = `kind = 'serve' AND heartbeat_at + lease_ms * interval '1 millisecond' > now()`;

/**
 * Waits until every live serving instance has confirmed a catalog transaction: `xid` is visible in its
 * `catalog_snapshot` (every tenant change of a transaction visible there is reflected in what it routes),
 * or below its `catalog_xmin` (all an instance of the version before publishes). An instance whose
 * lease lapses meanwhile is no longer waited for: it has stopped serving what it could not re-check. With
 * no live serving instance the wait is over at once.
 *
 * Throws 503 `move_confirmation_timeout` when some instance has not confirmed within `timeoutMs`.
 */
export async function waitForConfirmations(
  knex: Knex,
  xid: string,
  options: { timeoutMs: number; pollMs?: number },
): Promise<ConfirmationWait> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  let waitedFor: number | undefined;
  for (;;) {
    const { rows } = await knex.raw<{ rows: { id: string; host: string; pid: number }[] }>(
      `SELECT id, host, pid FROM instances
        WHERE ${LIVE_SERVE}
          AND NOT coalesce(pg_visible_in_snapshot(?::xid8, catalog_snapshot), false)
          AND NOT coalesce(catalog_xmin > ?::xid8, false)
        ORDER BY started_at`,
      [xid, xid],
    );
    waitedFor ??= rows.length;
    if (rows.length === 0) return { waitedMs: Math.round(performance.now() - started), waitedFor };
    if (performance.now() >= deadline) {
      const names = rows.map((row) => `${row.host}:${row.pid}`).join(', ');
      throw new UnavailableError(
        `${rows.length} serving instance(s) did not confirm the catalog change within ${options.timeoutMs} ms: ${names}`,
        'move_confirmation_timeout',
        { retryAfterSeconds: 5 },
      );
    }
    await sleep(options.pollMs ?? 50);
  }
}

/** A fresh transaction id: every transaction that committed before this call has a lower one. */
export async function currentXid(knex: Knex): Promise<string> {
  const { rows } = await knex.raw<{ rows: { xid: string }[] }>('SELECT pg_current_xact_id()::text AS xid');
  return rows[0]!.xid;
}
