import type { Knex } from 'knex';
import type { Logger } from '../logging/logger.js';

export const HOUR_MS = 3_600_000;

/** One tenant's counts for one hour, as they accumulate between two flushes. */
interface HourCounts {
  requests: number;
  errors4xx: number;
  errors5xx: number;
  dbTimeMs: number;
  bytesIn: number;
  bytesOut: number;
}

/** What one flush wrote. */
export interface FlushResult {
  /** (tenant, hour) rows added to. */
  rows: number;
  requests: number;
}

export interface UsageMeterOptions {
  knex: Knex;
  logger: Logger;
  /** How often the counts are written to the catalog, in ms (USAGE_FLUSH_INTERVAL_MS). Default 5000. */
  flushIntervalMs?: number;
}

/**
 * Adds every (tenant, hour)'s counts of one flush to `tenant_usage` in one statement, however many tenants.
 * Sorted, so that two instances flushing at once lock the rows they share in the same order instead of
 * deadlocking on them. A token may name a tenant the catalog never had (its requests were refused): such
 * counts are dropped rather than billed to nobody.
 */
const FLUSH_SQL = `INSERT INTO tenant_usage AS u
    (tenant_id, period_start, requests, errors_4xx, errors_5xx, db_time_ms, bytes_in, bytes_out)
  SELECT m.* FROM unnest(?::text[], ?::timestamptz[], ?::bigint[], ?::bigint[], ?::bigint[], ?::float8[],
                         ?::bigint[], ?::bigint[])
                  AS m (tenant_id, period_start, requests, errors_4xx, errors_5xx, db_time_ms, bytes_in, bytes_out)
   WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = m.tenant_id)
   ORDER BY 1, 2
  ON CONFLICT (tenant_id, period_start) DO UPDATE SET
    requests = u.requests + excluded.requests,
    errors_4xx = u.errors_4xx + excluded.errors_4xx,
    errors_5xx = u.errors_5xx + excluded.errors_5xx,
    db_time_ms = u.db_time_ms + excluded.db_time_ms,
    bytes_in = u.bytes_in + excluded.bytes_in,
    bytes_out = u.bytes_out + excluded.bytes_out`;

/**
 * Counts each tenant's requests, errors, database time and bytes per hour in memory, and adds them to the
 * catalog's `tenant_usage` every `flushIntervalMs` in one statement. A request pays for a Map lookup and a
 * few additions (`record`), never for a write; an instance killed without warning loses what it counted
 * since its last flush, and `close` flushes what is left.
 */
export class UsageMeter {
  readonly flushIntervalMs: number;
  readonly #knex: Knex;
  readonly #logger: Logger;
  /** Counts by hour (ms since the epoch / HOUR_MS), then tenant. */
  #hours = new Map<number, Map<string, HourCounts>>();
  /** The hour `record` last wrote to, and its tenants: one Map lookup per request instead of two. */
  #currentHour = Number.NaN;
  #current: Map<string, HourCounts> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Flushes run one after another: the last one queued. */
  #flushing: Promise<unknown> = Promise.resolve();
  /** Requests written by this meter since it started (logged with each flush). */
  #flushedRequests = 0;

  constructor(options: UsageMeterOptions) {
    this.#knex = options.knex;
    this.#logger = options.logger;
    this.flushIntervalMs = options.flushIntervalMs ?? 5000;
    if (!(Number.isInteger(this.flushIntervalMs) && this.flushIntervalMs > 0)) {
      throw new TypeError(`flushIntervalMs must be a positive integer, got ${this.flushIntervalMs}`);
    }
  }

  /** Flushes every `flushIntervalMs` until `close`; the timer keeps no process alive. */
  start(): this {
    this.#timer ??= setInterval(() => {
      this.flush().catch(() => {
        // Logged by flush; the counts stay for the next one.
      });
    }, this.flushIntervalMs).unref();
    return this;
  }

  /** Counts one finished request of `tenantId`, with its status, database time (ms) and body bytes. */
  record(tenantId: string, status: number, dbTimeMs: number, bytesIn: number, bytesOut: number): void {
    const hour = Math.floor(Date.now() / HOUR_MS);
    let tenants = this.#current;
    if (hour !== this.#currentHour || tenants === undefined) {
      tenants = this.#hours.get(hour);
      if (tenants === undefined) {
        tenants = new Map();
        this.#hours.set(hour, tenants);
      }
      this.#currentHour = hour;
      this.#current = tenants;
    }
    let counts = tenants.get(tenantId);
    if (counts === undefined) {
      counts = { requests: 0, errors4xx: 0, errors5xx: 0, dbTimeMs: 0, bytesIn: 0, bytesOut: 0 };
      tenants.set(tenantId, counts);
    }
    counts.requests += 1;
    if (status >= 500) counts.errors5xx += 1;
    else if (status >= 400) counts.errors4xx += 1;
    counts.dbTimeMs += dbTimeMs;
    counts.bytesIn += bytesIn;
    counts.bytesOut += bytesOut;
  }

  /** Requests counted and not yet written. */
  get pendingRequests(): number {
    let pending = 0;
    for (const tenants of this.#hours.values())
      for (const counts of tenants.values()) pending += counts.requests;
    return pending;
  }

  /**
   * Writes what was counted since the last flush, in one statement. A failed write puts the counts back,
   * to be added to the next one, and rejects.
   */
  flush(): Promise<FlushResult> {
    const run = this.#flushing.then(() => this.#write());
    this.#flushing = run.catch(() => {});
    return run;
  }

  async #write(): Promise<FlushResult> {
    const hours = this.#hours;
    this.#hours = new Map();
    this.#current = undefined;
    const columns = {
      tenants: [] as string[],
      periods: [] as string[],
      requests: [] as number[],
      errors4xx: [] as number[],
      errors5xx: [] as number[],
      dbTimeMs: [] as number[],
      bytesIn: [] as number[],
      bytesOut: [] as number[],
    };
    let requests = 0;
    for (const [hour, tenants] of hours) {
      const period = new Date(hour * HOUR_MS).toISOString();
      for (const [tenantId, counts] of tenants) {
        columns.tenants.push(tenantId);
        columns.periods.push(period);
        columns.requests.push(counts.requests);
        columns.errors4xx.push(counts.errors4xx);
        columns.errors5xx.push(counts.errors5xx);
        columns.dbTimeMs.push(counts.dbTimeMs);
        columns.bytesIn.push(counts.bytesIn);
        columns.bytesOut.push(counts.bytesOut);
        requests += counts.requests;
      }
    }
    const rows = columns.tenants.length;
    if (rows === 0) return { rows, requests };
    try {
      await this.#knex.raw(FLUSH_SQL, Object.values(columns));
    } catch (error) {
      this.#putBack(hours);
      this.#logger.warn({ err: error, rows, requests }, 'usage flush failed; the next flush retries');
      throw error;
    }
    this.#flushedRequests += requests;
    this.#logger.debug({ rows, requests, flushedRequests: this.#flushedRequests }, 'usage flushed');
    return { rows, requests };
  }

  /** Adds counts a failed flush took back into the ones counted meanwhile. */
  #putBack(hours: Map<number, Map<string, HourCounts>>): void {
    for (const [hour, tenants] of hours) {
      const now = this.#hours.get(hour);
      if (now === undefined) {
        this.#hours.set(hour, tenants);
        continue;
      }
      for (const [tenantId, counts] of tenants) {
        const later = now.get(tenantId);
        if (later === undefined) {
          now.set(tenantId, counts);
          continue;
        }
        later.requests += counts.requests;
        later.errors4xx += counts.errors4xx;
        later.errors5xx += counts.errors5xx;
        later.dbTimeMs += counts.dbTimeMs;
        later.bytesIn += counts.bytesIn;
        later.bytesOut += counts.bytesOut;
      }
    }
    this.#current = undefined;
  }

  /** Stops the timer and writes what is left; a failed last write is logged with what it loses. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush().catch((error: unknown) => {
      this.#logger.error(
        { err: error, requests: this.pendingRequests },
        'usage counted since the last flush could not be written and is lost',
      );
    });
  }
}
