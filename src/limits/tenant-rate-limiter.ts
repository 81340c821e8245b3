import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Logger } from '../logging/logger.js';

/** Where the counters live right now: Redis (shared), this process only by choice, or by necessity. */
export type RateLimitMode = 'redis' | 'local' | 'degraded_local';

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the tenant's window resets. */
  resetMs: number;
}

/** Places in the current window this instance holds for a tenant: `next` to `last`, until `resetAt`. */
interface Reserve {
  /** The limit the places were taken under: a reserve of another limit is not used. */
  limit: number;
  next: number;
  last: number;
  resetAt: number;
  /** Places used in the window, as Redis last said: what decides how much to reserve next time. */
  consumed: number;
}

/**
 * At most this share of what is left of a window is reserved ahead, and never more than RESERVE_MAX. The
 * share keeps reserves small as a tenant nears its limit, where an unused reserve could matter; the cap
 * bounds what a busy tenant far from its limit holds. A Redis increment costs this process a few hundred
 * microseconds of CPU (client, script call, promises), so a busy tenant's requests should rarely need one:
 * with a cap of 64, two apps serving bench/router's load side by side, one with the limiter and one
 * without, differed by about 5%.
 */
const RESERVE_DIVISOR = 16;
const RESERVE_MAX = 1024;

interface Batch {
  key: string;
  limit: number;
  waiters: Array<(decision: RateLimitDecision) => void>;
}

export interface TenantRateLimiterOptions {
  /** Shared counters in this Redis; unset keeps them per process. */
  redisUrl?: string | undefined;
  /** Redis key prefix; separates deployments (and test runs) sharing one Redis. */
  keyPrefix: string;
  logger: Logger;
  /** Window length in seconds. Default 60 (limits are per minute). */
  windowSeconds?: number;
  /** A Redis command slower than this counts as Redis being down for that request, in ms. Default 500. */
  commandTimeoutMs?: number;
}

/**
 * Per-tenant request limits, fixed window, counted in Redis so every instance shares them with
 * rate-limiter-flexible's increment script. A request costs at most one Redis round trip, usually less:
 *
 * - requests of one tenant in the same event-loop turn are counted with one increment;
 * - while a tenant is far from its limit, an increment also reserves a few places ahead (at most 1/16 of
 *   what is left, at most 1024) that this instance's next requests of the tenant take without asking Redis.
 *   Requests that find the reserve empty while such an increment is on its way wait for its places.
 *   Reserved places count as used, so the limit is never exceeded; near the limit there is no reserve and
 *   every request is counted in Redis as it comes. A reserve unused at the end of the window is lost, which
 *   can only make the limit stricter, by at most what was reserved;
 * - a tenant that used up its window is refused from memory until the window ends.
 *
 * Every request gets its own place in the window, so `remaining` is exact as of the increment that
 * counted it.
 *
 * When Redis is unreachable each process counts on its own (the insurance limiter) and requests keep being
 * served; the change is logged once each way and shows in `mode`.
 */
export class TenantRateLimiter {
  readonly #redis: Redis | undefined;
  readonly #options: TenantRateLimiterOptions;
  readonly #windowSeconds: number;
  /** One limiter per distinct limit: tiers and overrides give a handful. They share keys, so changing a
   * tenant's limit keeps what it used in the current window. */
  readonly #limiters = new Map<number, RateLimiterAbstract>();
  #degraded = false;

  constructor(options: TenantRateLimiterOptions) {
    this.#options = options;
    this.#windowSeconds = options.windowSeconds ?? 60;
    if (options.redisUrl) {
      this.#redis = new Redis(options.redisUrl, {
        // Fail at once while disconnected (the insurance limiter answers) instead of queueing requests.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: options.commandTimeoutMs ?? 500,
        // Concurrent requests' increments go out in one write: under load the saved syscalls outweigh the
        // batching's own cost (measured in bench/router, the ops cases).
        enableAutoPipelining: true,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      });
      // Until the first connection counting is local too (see `mode`), but only a failure is logged.
      this.#redis.on('ready', () => this.#setDegraded(false));
      this.#redis.on('close', () => this.#setDegraded(true));
      this.#redis.on('error', (error) => this.#setDegraded(true, error));
    }
  }

  get mode(): RateLimitMode {
    if (!this.#redis) return 'local';
    return this.#redis.status === 'ready' ? 'redis' : 'degraded_local';
  }

  #setDegraded(degraded: boolean, error?: Error): void {
    if (degraded === this.#degraded) return;
    this.#degraded = degraded;
    if (degraded) {
      this.#options.logger.warn(
        { err: error },
        'rate limits: Redis unreachable, counting per process until it is back',
      );
    } else {
      this.#options.logger.info('rate limits: Redis reachable again, counting shared');
    }
  }

  #limiter(limit: number): RateLimiterAbstract {
    let limiter = this.#limiters.get(limit);
    if (!limiter) {
      const common = { points: limit, duration: this.#windowSeconds, keyPrefix: this.#options.keyPrefix };
      limiter = this.#redis
        ? new RateLimiterRedis({
            ...common,
            storeClient: this.#redis,
            rejectIfRedisNotReady: true,
            inMemoryBlockOnConsumed: limit,
            insuranceLimiter: new RateLimiterMemory(common),
          })
        : new RateLimiterMemory(common);
      this.#limiters.set(limit, limiter);
    }
    return limiter;
  }

  /**
   * Counts one request of `key` against `limit` per window. Requests of one key arriving in the same turn
   * of the event loop are counted together, with one increment by their number: a busy tenant costs one
   * Redis command per turn rather than one per request. Each request gets its own place in the count, so
   * the decisions and `remaining` are the same as if they had been counted one by one.
   */
  consume(key: string, limit: number): Promise<RateLimitDecision> {
    const reserved = this.fromReserve(key, limit);
    if (reserved) return Promise.resolve(reserved);
    // While an increment that reserves ahead is on its way, the places it brings back are for these
    // requests too: waiting for it spares a second reservation, which would replace the first one's
    // unused places and so waste them.
    const refill = this.#refills.get(key);
    if (refill) return new Promise((resolve) => refill.push(() => resolve(this.consume(key, limit))));
    const batchKey = `${limit}:${key}`;
    let batch = this.#batches.get(batchKey);
    if (!batch) {
      batch = { key, limit, waiters: [] };
      this.#batches.set(batchKey, batch);
      if (this.#batches.size === 1) setImmediate(this.#flush);
    }
    const waiters = batch.waiters;
    return new Promise((resolve) => waiters.push(resolve));
  }

  /**
   * Counts one request from this instance's reserve for the tenant, without Redis and synchronously;
   * undefined when there is none left (then use `consume`).
   */
  fromReserve(key: string, limit: number): RateLimitDecision | undefined {
    const reserve = this.#reserves.get(key);
    if (!reserve || reserve.limit !== limit || reserve.next > reserve.last) return undefined;
    const now = Date.now();
    if (now >= reserve.resetAt) return undefined;
    const used = reserve.next++;
    return { allowed: true, limit, remaining: limit - used, resetMs: reserve.resetAt - now };
  }

  readonly #batches = new Map<string, Batch>();
  /** Tenants with an increment reserving ahead in flight, and the requests waiting for its places. */
  readonly #refills = new Map<string, Array<() => void>>();
  /**
   * Reserved places per tenant. An entry is good until its `resetAt`, checked on use; an old one is only
   * ever replaced or dropped as least recently used, which spares the cache a time-to-live per lookup.
   */
  readonly #reserves = new LRUCache<string, Reserve>({ max: 100000 });

  readonly #flush = (): void => {
    const batches = [...this.#batches.values()];
    this.#batches.clear();
    for (const batch of batches) void this.#consumeBatch(batch);
  };

  async #consumeBatch({ key, limit, waiters }: Batch): Promise<void> {
    const count = waiters.length;
    const known = this.#reserves.get(key);
    const ahead =
      known && known.limit === limit && Date.now() < known.resetAt
        ? Math.max(0, Math.min(RESERVE_MAX, Math.floor((limit - known.consumed) / RESERVE_DIVISOR)))
        : 0;
    const refill: Array<() => void> | undefined = ahead > 0 && !this.#refills.has(key) ? [] : undefined;
    if (refill) this.#refills.set(key, refill);
    const taken = count + ahead;
    try {
      this.#settle(key, limit, waiters, await this.#count(key, limit, taken), taken);
    } finally {
      if (refill) {
        this.#refills.delete(key);
        for (const retry of refill) retry();
      }
    }
  }

  /** Counts `points` for `key` in the shared window; undefined if even the insurance limiter failed. */
  async #count(key: string, limit: number, points: number): Promise<RateLimiterRes | undefined> {
    try {
      return await this.#limiter(limit).consume(key, points);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        // Only reachable if the insurance limiter itself failed: never refuse a request for that.
        this.#options.logger.error({ err: rejection }, 'rate limiter failed; requests let through');
        return undefined;
      }
      return rejection;
    }
  }

  /** Answers a batch's requests from the increment that counted them, and keeps what it reserved. */
  #settle(
    key: string,
    limit: number,
    waiters: Batch['waiters'],
    result: RateLimiterRes | undefined,
    taken: number,
  ): void {
    if (!result) {
      const decision = { allowed: true, limit, remaining: limit, resetMs: this.#windowSeconds * 1000 };
      for (const resolve of waiters) resolve(decision);
      return;
    }
    const count = waiters.length;
    // A key blocked in memory is refused without counting (consumedPoints 0): all of the batch is over.
    const before = result.consumedPoints >= taken ? result.consumedPoints - taken : limit;
    const resetAt = Date.now() + result.msBeforeNext;
    this.#reserves.set(key, {
      limit,
      next: before + count + 1,
      last: Math.min(before + taken, limit),
      resetAt,
      consumed: Math.max(result.consumedPoints, before + taken),
    });
    waiters.forEach((resolve, index) => {
      const used = before + index + 1;
      resolve({
        allowed: used <= limit,
        limit,
        remaining: Math.max(0, limit - used),
        resetMs: result.msBeforeNext,
      });
    });
  }

  async close(): Promise<void> {
    this.#redis?.removeAllListeners('close');
    this.#redis?.disconnect();
  }
}
