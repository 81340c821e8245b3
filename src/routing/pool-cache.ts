import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

/** Where a pool connects and how big it may grow. */
export interface PoolTarget {
  databaseId: string;
  databaseName: string;
  serverId: string;
  /** Connections this database's pool may open. */
  poolSize: number;
  /** Connections all of this process's pools together may hold on the server. */
  serverBudget: number;
}

export interface ServerCredentials {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface PoolCacheOptions {
  /** Application-role credentials of a server; called each time a pool opens (the catalog caches them). */
  credentials: (serverId: string) => Promise<ServerCredentials>;
  logger: Logger;
  /**
   * Most idle pools kept open, across all servers. Default 100. A pool with work in flight, or used within
   * `overflowGraceMs`, is not closed to honour this count: closing busy pools only to reopen them costs
   * every request a new connection. The connection budget per server is the hard limit.
   */
  maxPools?: number;
  /** How long a pool over the `maxPools` count may stay after its last use, in ms. Default 1000. */
  overflowGraceMs?: number;
  /** A pool unused for this long is closed, in ms. Default 60000. */
  idleMs?: number;
  /** How long a request waits for a connection (or for budget to open a pool) before 503, in ms. Default 2000. */
  acquireTimeoutMs?: number;
  /** After a server refuses a connection, requests to it fail fast for this long, in ms. Default 1000. */
  serverDownMs?: number;
}

interface PoolEntry {
  target: PoolTarget;
  pool: pg.Pool;
  size: number;
  leases: number;
  /** performance.now() of the last lease release. */
  lastUsed: number;
  retiring: boolean;
  closing: Promise<void> | undefined;
  /** Settles once the pool has ended. */
  closed: Promise<void>;
  markClosed: () => void;
}

/** A pool being opened, and how many requests wait for it. */
interface Opening {
  waiters: number;
  entry: Promise<PoolEntry>;
}

/** A database's pool, held open for the duration of one unit of work. Release it exactly once. */
export interface PoolLease {
  connect(): Promise<pg.PoolClient>;
  release(): void;
}

/** SQLSTATEs and socket errors that mean the server cannot be reached, as opposed to a failed query. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

export function isUnreachableError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  const message = (error as Error | undefined)?.message ?? '';
  return (
    message.includes('Connection terminated') || message.includes('timeout exceeded when trying to connect')
  );
}

/**
 * An LRU cache of pg pools, one per database, bounded by a number of pools and by each server's connection
 * budget. An evicted pool is closed only once the work that leased it has finished, so eviction never cuts
 * a query short; its connections count against the budget until then.
 */
export class PoolCache {
  readonly #options: Required<Omit<PoolCacheOptions, 'credentials' | 'logger'>>;
  readonly #credentials: PoolCacheOptions['credentials'];
  readonly #logger: Logger;
  readonly #lru: LRUCache<string, PoolEntry>;
  readonly #opening = new Map<string, Opening>();
  /** Connections reserved per server: the max size of every open or retiring pool on it. */
  readonly #reserved = new Map<string, number>();
  readonly #retiring = new Set<PoolEntry>();
  readonly #budgetWaiters = new Set<() => void>();
  readonly #serverDownUntil = new Map<string, number>();
  #closed = false;

  constructor(options: PoolCacheOptions) {
    this.#options = {
      maxPools: options.maxPools ?? 100,
      overflowGraceMs: options.overflowGraceMs ?? 1000,
      idleMs: options.idleMs ?? 60000,
      acquireTimeoutMs: options.acquireTimeoutMs ?? 2000,
      serverDownMs: options.serverDownMs ?? 1000,
    };
    if (!(Number.isInteger(this.#options.maxPools) && this.#options.maxPools > 0)) {
      throw new TypeError('maxPools must be a positive integer');
    }
    this.#credentials = options.credentials;
    this.#logger = options.logger;
    this.#lru = new LRUCache<string, PoolEntry>({
      ttl: this.#options.idleMs,
      updateAgeOnGet: true,
      ttlAutopurge: true,
      dispose: (entry) => this.#retire(entry),
    });
  }

  async lease(target: PoolTarget): Promise<PoolLease> {
    if (this.#closed) throw new UnavailableError('the router is shutting down', 'shutting_down');
    const cached = this.#lru.get(target.databaseId);
    if (cached && !cached.retiring) {
      cached.leases += 1;
      return this.#leaseOf(cached);
    }
    let opening = this.#opening.get(target.databaseId);
    if (!opening) {
      const created: Opening = { waiters: 0, entry: Promise.resolve(undefined as never) };
      // Registered before #open runs, so that a failure inside it (which unregisters) cannot leave a dead entry.
      this.#opening.set(target.databaseId, created);
      created.entry = this.#open(target, created);
      opening = created;
    }
    // Counted now and turned into leases the moment the pool exists, so nothing can close the new pool
    // before the requests that waited for it have run.
    opening.waiters += 1;
    return this.#leaseOf(await opening.entry);
  }

  /** Wraps one already-counted lease of the entry. */
  #leaseOf(entry: PoolEntry): PoolLease {
    let released = false;
    return {
      connect: () => this.#connect(entry),
      release: () => {
        if (released) return;
        released = true;
        entry.leases -= 1;
        entry.lastUsed = performance.now();
        if (entry.retiring && entry.leases === 0) void this.#close(entry);
        else if (entry.leases === 0 && this.#lru.size > this.#options.maxPools) this.#scheduleTrim();
      },
    };
  }

  async #connect(entry: PoolEntry): Promise<pg.PoolClient> {
    const { serverId } = entry.target;
    this.#assertServerUp(serverId);
    try {
      return await entry.pool.connect();
    } catch (error) {
      const saturated = entry.pool.totalCount >= entry.size;
      if (!saturated && isUnreachableError(error)) {
        this.#serverDownUntil.set(serverId, Date.now() + this.#options.serverDownMs);
        this.#logger.warn({ server: serverId, err: error }, 'database server unreachable');
        throw new UnavailableError(`database server ${serverId} is unreachable`, 'database_unavailable', {
          cause: error,
          retryAfterSeconds: Math.ceil(this.#options.serverDownMs / 1000),
        });
      }
      if (saturated) {
        throw new UnavailableError('all connections to the tenant database are busy', 'pool_exhausted', {
          cause: error,
          retryAfterSeconds: 1,
        });
      }
      throw error;
    }
  }

  #assertServerUp(serverId: string): void {
    const downUntil = this.#serverDownUntil.get(serverId);
    if (downUntil !== undefined && downUntil > Date.now()) {
      throw new UnavailableError(`database server ${serverId} is unreachable`, 'database_unavailable', {
        retryAfterSeconds: Math.ceil((downUntil - Date.now()) / 1000),
      });
    }
  }

  async #open(target: PoolTarget, opening: Opening): Promise<PoolEntry> {
    const size = Math.max(1, Math.min(target.poolSize, target.serverBudget));
    let credentials: ServerCredentials;
    try {
      this.#assertServerUp(target.serverId);
      await this.#reserve(target, size);
      try {
        credentials = await this.#credentials(target.serverId);
      } catch (error) {
        this.#unreserve(target.serverId, size);
        throw error;
      }
    } catch (error) {
      this.#opening.delete(target.databaseId);
      throw error;
    }
    const pool = new pg.Pool({
      ...credentials,
      database: target.databaseName,
      max: size,
      idleTimeoutMillis: Math.min(this.#options.idleMs, 30000),
      connectionTimeoutMillis: this.#options.acquireTimeoutMs,
      allowExitOnIdle: true,
    });
    pool.on('error', (error) =>
      this.#logger.warn({ database: target.databaseId, err: error }, 'idle connection lost'),
    );
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const entry: PoolEntry = {
      target,
      pool,
      size,
      leases: opening.waiters,
      lastUsed: performance.now(),
      retiring: false,
      closing: undefined,
      closed,
      markClosed,
    };
    this.#opening.delete(target.databaseId);
    this.#lru.set(target.databaseId, entry);
    // Requests waiting for budget may now retire this pool; it closes once its waiters are served.
    this.#wakeBudgetWaiters();
    if (this.#lru.size > this.#options.maxPools) this.#scheduleTrim();
    return entry;
  }

  /** Makes room within the server's budget, evicting its least recently used pools, or waits for it. */
  async #reserve(target: PoolTarget, size: number): Promise<void> {
    const deadline = Date.now() + this.#options.acquireTimeoutMs;
    for (;;) {
      const used = this.#reserved.get(target.serverId) ?? 0;
      if (used + size <= target.serverBudget) {
        this.#reserved.set(target.serverId, used + size);
        return;
      }
      if (!this.#evictOneOn(target.serverId)) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw new UnavailableError(
            `connection budget of server ${target.serverId} is exhausted`,
            'pool_exhausted',
            {
              retryAfterSeconds: 1,
            },
          );
        }
        await this.#waitForBudget(remaining);
      }
    }
  }

  #trimTimer: NodeJS.Timeout | undefined;

  /** Closes least recently used idle pools until the count is back to maxPools, once they have rested. */
  #scheduleTrim(): void {
    if (this.#trimTimer) return;
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = undefined;
      const now = performance.now();
      let excess = this.#lru.size - this.#options.maxPools;
      let waiting = false;
      for (const key of [...this.#lru.rkeys()]) {
        if (excess <= 0) break;
        const entry = this.#lru.peek(key);
        if (!entry || entry.leases > 0) continue;
        if (now - entry.lastUsed < this.#options.overflowGraceMs) {
          waiting = true;
          continue;
        }
        this.#lru.delete(key);
        excess -= 1;
      }
      // Busy pools left over get another trim when their last lease is released.
      if (excess > 0 && waiting) this.#scheduleTrim();
    }, this.#options.overflowGraceMs);
    this.#trimTimer.unref();
  }

  #evictOneOn(serverId: string): boolean {
    // rkeys() walks from least to most recently used.
    for (const key of this.#lru.rkeys()) {
      if (this.#lru.peek(key)?.target.serverId === serverId) {
        this.#lru.delete(key);
        return true;
      }
    }
    return false;
  }

  #waitForBudget(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#budgetWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#budgetWaiters.add(done);
    });
  }

  #unreserve(serverId: string, size: number): void {
    this.#reserved.set(serverId, (this.#reserved.get(serverId) ?? 0) - size);
    this.#wakeBudgetWaiters();
  }

  #wakeBudgetWaiters(): void {
    for (const waiter of [...this.#budgetWaiters]) waiter();
  }

  #retire(entry: PoolEntry): void {
    entry.retiring = true;
    this.#retiring.add(entry);
    if (entry.leases === 0) void this.#close(entry);
  }

  #close(entry: PoolEntry): Promise<void> {
    entry.closing ??= entry.pool
      .end()
      .catch((error) =>
        this.#logger.warn({ database: entry.target.databaseId, err: error }, 'pool close failed'),
      )
      .finally(() => {
        this.#retiring.delete(entry);
        this.#unreserve(entry.target.serverId, entry.size);
        entry.markClosed();
      });
    return entry.closing;
  }

  /** Closes the database's pool (after its in-flight work), e.g. when its tenant moved or was deleted. */
  evict(databaseId: string): void {
    this.#lru.delete(databaseId);
  }

  stats(): Array<{
    databaseId: string;
    serverId: string;
    size: number;
    total: number;
    idle: number;
    waiting: number;
  }> {
    const entries = [...this.#lru.values(), ...this.#retiring];
    return entries.map((entry) => ({
      databaseId: entry.target.databaseId,
      serverId: entry.target.serverId,
      size: entry.size,
      total: entry.pool.totalCount,
      idle: entry.pool.idleCount,
      waiting: entry.pool.waitingCount,
    }));
  }

  /** Reserved connections per server (open plus retiring pools), never above each server's budget. */
  reservedConnections(serverId: string): number {
    return this.#reserved.get(serverId) ?? 0;
  }

  /** Closes every pool once its in-flight work is done. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#trimTimer) clearTimeout(this.#trimTimer);
    const entries = [...this.#lru.values(), ...this.#retiring];
    // Disposing retires each pool: it ends as soon as its last lease is released.
    this.#lru.clear();
    await Promise.all(entries.map((entry) => entry.closed));
  }
}
