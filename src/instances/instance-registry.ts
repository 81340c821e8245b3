import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import type { Logger } from '../logging/logger.js';
import type { ServerConnectionStats } from '../routing/elastic-pool.js';
import type { InstanceLease } from './instance-lease.js';

/** A whole server budget, in the millionths that shares are counted in. */
export const WHOLE_SHARE_PPM = 1_000_000;

/** What holds this instance's router connections: the registry tells it its share of every server's budget. */
export interface ShareHolder {
  /** The most this instance may hold from now on, in millionths of each server's router budget. */
  setShare(ppm: number): void;
  /** Whether it holds no more than `ppm` allows on any server (so that share may be given up). */
  holdsWithin(ppm: number): boolean;
  /** What it holds per server, recorded with each heartbeat for the Fleet view. */
  serverStats?(): ServerConnectionStats[];
}

export interface InstanceRegistryOptions {
  /** The control database. */
  knex: Knex;
  kind: 'serve' | 'worker';
  logger: Logger;
  /** How often the lease is renewed and the shares looked at, in ms. Default 1000. */
  heartbeatMs?: number;
  /** How long after its last renewal an instance counts as gone, in ms. Default 10000. */
  leaseMs?: number;
  /** How long `start` waits for a share of the budget to be handed over, in ms. Default 5000. */
  startWaitMs?: number;
}

/** Taken for each renewal, so that shares are compared and changed by one instance at a time. */
const REGISTRY_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tenantplane.instances'))";

/** Subtracted from the lease as this instance measures it: clocks may run at slightly different rates. */
const LEASE_MARGIN_MS = 1000;

/** How often an instance whose share is still below its fair part asks again, in ms. */
const CATCH_UP_MS = 200;

/**
 * This process's row in the catalog's `instances` table, renewed every `heartbeatMs`, and its share of each
 * server's router budget.
 *
 * The serving instances split every server's router budget evenly. Each renewal, under one advisory lock,
 * deletes the rows of instances whose lease lapsed (their share is free again) and compares this
 * instance's share with its fair part (the whole divided by the live serving instances):
 * - above it (another instance started): the share holder is limited to the fair part at once, closing
 *   idle connections above it, and the row gives the surplus up once the holder is within it;
 * - below it: the row takes as much of the fair part as the other rows leave free, and only after that
 *   commits may the holder use it.
 * So the shares on record never add up to more than the whole, and no instance holds more than its share on
 * record. An instance that cannot renew its lease in time holds nothing: by then another may have taken
 * its share.
 */
export class InstanceRegistry implements InstanceLease {
  readonly id = randomUUID();
  readonly #knex: Knex;
  readonly #kind: 'serve' | 'worker';
  readonly #logger: Logger;
  #holder: ShareHolder | undefined;
  readonly #heartbeatMs: number;
  readonly #leaseMs: number;
  readonly #startWaitMs: number;
  #validUntil = 0;
  /** performance.now() when the last renewal succeeded. */
  #renewedAt = Number.NEGATIVE_INFINITY;
  /** This instance's share on record. */
  #recordedPpm = 0;
  /** The fair part at the last renewal. */
  #fairPpm = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Fires when the lease lapses by this process's clock, renewed or not (a renewal may hang). */
  #expiryTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  #closed = false;
  #failing = false;

  constructor(options: InstanceRegistryOptions) {
    this.#knex = options.knex;
    this.#kind = options.kind;
    this.#logger = options.logger;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#leaseMs = options.leaseMs ?? 10000;
    this.#startWaitMs = options.startWaitMs ?? 5000;
    if (!(Number.isInteger(this.#heartbeatMs) && this.#heartbeatMs > 0)) {
      throw new TypeError('heartbeatMs must be a positive integer');
    }
    if (!(Number.isInteger(this.#leaseMs) && this.#leaseMs >= 3 * this.#heartbeatMs + LEASE_MARGIN_MS)) {
      throw new TypeError(`leaseMs must be an integer of at least 3 heartbeats plus ${LEASE_MARGIN_MS} ms`);
    }
  }

  /**
   * Gives this instance's router connections their share of every server's budget from `start` on (none
   * until then). Only a `serve` instance routes.
   */
  attach(holder: ShareHolder): void {
    if (this.#kind !== 'serve') throw new TypeError('only a serve instance holds router connections');
    holder.setShare(0);
    this.#holder = holder;
  }

  validUntil(): number {
    return this.#validUntil;
  }

  /** Whether the lease was renewed within the last two heartbeats: the control database answers. */
  get renewingOnTime(): boolean {
    return performance.now() - this.#renewedAt <= 2 * this.#heartbeatMs;
  }

  /** This instance's share on record and the fair part, in millionths. */
  get share(): { recordedPpm: number; fairPpm: number } {
    return { recordedPpm: this.#recordedPpm, fairPpm: this.#fairPpm };
  }

  /**
   * Registers this instance and, when it routes, waits (up to `startWaitMs`) until the other instances
   * have handed it a share, so it does not start serving with none.
   */
  async start(): Promise<void> {
    await this.renew();
    const deadline = performance.now() + this.#startWaitMs;
    while (this.#holder && this.#recordedPpm === 0 && performance.now() < deadline && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_MS));
      await this.renew();
    }
    if (this.#holder && this.#recordedPpm === 0) {
      this.#logger.warn(
        'no share of the connection budget yet: the other instances have not given theirs up',
      );
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    const catchingUp = this.#holder !== undefined && this.#recordedPpm < this.#fairPpm;
    this.#timer = setTimeout(
      () => {
        void this.renew().finally(() => this.#schedule());
      },
      catchingUp ? CATCH_UP_MS : this.#heartbeatMs,
    );
    this.#timer.unref();
  }

  /** Renews the lease and settles the share now; never throws (a failure is logged and retried). */
  renew(): Promise<void> {
    this.#renewing ??= this.#renew().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renew(): Promise<void> {
    const sentAt = performance.now();
    try {
      const { recordedPpm, fairPpm } = await this.#knex.transaction((trx) => this.#renewIn(trx));
      this.#validUntil = sentAt + this.#leaseMs - LEASE_MARGIN_MS;
      this.#renewedAt = performance.now();
      this.#armExpiry();
      this.#recordedPpm = recordedPpm;
      this.#fairPpm = fairPpm;
      this.#holder?.setShare(Math.min(recordedPpm, fairPpm));
      if (this.#failing) this.#logger.info('instance lease renewed again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.#logger.warn({ err: error }, 'could not renew the instance lease');
      this.#failing = true;
      // Past the lease another instance may have taken this one's share: hold nothing until renewed.
      if (performance.now() >= this.#validUntil) this.#holder?.setShare(0);
    }
  }

  /**
   * Drops the share when the lease lapses without a renewal. A renewal on a connection that went silent
   * neither succeeds nor fails for as long as TCP keeps trying, so waiting for its failure is not enough.
   */
  #armExpiry(): void {
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    // Timers count whole milliseconds and may fire a fraction early: one past the lapse, and again if early.
    this.#expiryTimer = setTimeout(
      () => {
        if (this.#closed) return;
        if (performance.now() < this.#validUntil) {
          this.#armExpiry();
          return;
        }
        this.#logger.warn(
          'instance lease lapsed without a renewal: holding no router connections until renewed',
        );
        this.#failing = true;
        this.#holder?.setShare(0);
      },
      Math.max(0, Math.ceil(this.#validUntil - performance.now()) + 1),
    );
    this.#expiryTimer.unref();
  }

  /** This instance's router connections per server, in use and idle, as the `connections` column keeps them. */
  #connections(): string {
    const byServer: Record<string, { in_use: number; idle: number }> = {};
    for (const server of this.#holder?.serverStats?.() ?? []) {
      byServer[server.serverId] = { in_use: server.open - server.idle, idle: server.idle };
    }
    return JSON.stringify(byServer);
  }

  async #renewIn(trx: Knex.Transaction): Promise<{ recordedPpm: number; fairPpm: number }> {
    await trx.raw(REGISTRY_LOCK);
    const reaped = await trx.raw<{ rows: Array<{ id: string; kind: string; host: string; pid: number }> }>(
      `DELETE FROM instances
       WHERE heartbeat_at + lease_ms * interval '1 millisecond' < now() AND id <> ?
       RETURNING id, kind, host, pid`,
      [this.id],
    );
    for (const gone of reaped.rows) {
      this.#logger.warn({ instance: gone }, 'instance lease lapsed: its share of the budget is free again');
    }
    const renewed = await trx('instances')
      .where({ id: this.id })
      .update({ heartbeat_at: trx.fn.now(), lease_ms: this.#leaseMs, connections: this.#connections() })
      .returning<Array<{ router_share_ppm: number }>>('router_share_ppm');
    let recordedPpm = renewed[0]?.router_share_ppm;
    if (recordedPpm === undefined) {
      // First renewal, or this instance was taken for gone (it stalled past its lease) and starts over.
      await trx('instances').insert({
        id: this.id,
        kind: this.#kind,
        host: os.hostname(),
        pid: process.pid,
        lease_ms: this.#leaseMs,
        router_share_ppm: 0,
        connections: this.#connections(),
      });
      recordedPpm = 0;
    }
    if (this.#holder === undefined) return { recordedPpm, fairPpm: 0 };
    const serving = await trx('instances')
      .where({ kind: 'serve' })
      .select<Array<{ id: string; router_share_ppm: number }>>('id', 'router_share_ppm');
    const fairPpm = Math.floor(WHOLE_SHARE_PPM / serving.length);
    const othersPpm = serving
      .filter((row) => row.id !== this.id)
      .reduce((sum, row) => sum + row.router_share_ppm, 0);
    let nextPpm = recordedPpm;
    if (recordedPpm > fairPpm) {
      // Limited to the fair part at once (after this renewal); the record follows once that holds.
      if (this.#holder.holdsWithin(fairPpm)) nextPpm = fairPpm;
    } else {
      nextPpm = Math.max(recordedPpm, Math.min(fairPpm, WHOLE_SHARE_PPM - othersPpm));
    }
    if (nextPpm !== recordedPpm) {
      await trx('instances').where({ id: this.id }).update({ router_share_ppm: nextPpm });
    }
    return { recordedPpm: nextPpm, fairPpm };
  }

  /** Leaves the registry: call once this instance's connections are closed, so its share is free. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#expiryTimer) clearTimeout(this.#expiryTimer);
    // A renewal hung on a silent connection must not hold up shutdown.
    await Promise.race([
      this.#renewing,
      new Promise((resolve) => setTimeout(resolve, this.#heartbeatMs).unref()),
    ]);
    this.#holder?.setShare(0);
    // Unanswered, the row lapses with the lease and the others take the share then.
    const left = this.#knex('instances')
      .where({ id: this.id })
      .delete()
      .catch((error) => this.#logger.warn({ err: error }, 'could not leave the instance registry'));
    await Promise.race([left, new Promise((resolve) => setTimeout(resolve, 2 * this.#heartbeatMs).unref())]);
  }
}
