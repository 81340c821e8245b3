import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Catalog } from './catalog.js';
import type { TenantRoute } from './records.js';

/** The channel the catalog's trigger notifies on every change to a tenant row. */
export const TENANT_CHANGED_CHANNEL = 'tenantplane_tenant_changed';

/**
 * How stale a router's view of a tenant can be, in ms: notifications arrive within milliseconds, and while
 * the LISTEN connection is down entries live this long. A tier move waits this long after pausing a tenant.
 */
export const CATALOG_CHANGE_BOUND_MS = 1000;

export interface TenantDirectoryOptions {
  catalog: Catalog;
  /** Control database URL for the LISTEN connection. */
  controlDatabaseUrl: string;
  logger: Logger;
  /** How long a lookup is cached while change notifications flow, in ms. Default 30000. */
  ttlMs?: number;
  /** Cache lifetime while the notification connection is down, in ms: the staleness bound then. Default 1000. */
  fallbackTtlMs?: number;
  /** Most tenants cached. Default 100000. */
  maxEntries?: number;
}

interface CachedRoute {
  route: TenantRoute | undefined;
}

/**
 * Catalog lookups for the router, cached, and invalidated in every process by the catalog's NOTIFY as soon
 * as a tenant is suspended, deleted or moved. When the LISTEN connection is lost the cache is emptied and
 * entries live for `fallbackTtlMs` until it is back, so no instance serves a stale placement for long.
 *
 * Emits `changed` with the tenant id after each invalidation.
 */
export class TenantDirectory extends EventEmitter<{ changed: [tenantId: string] }> {
  readonly #catalog: Catalog;
  readonly #url: string;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #fallbackTtlMs: number;
  readonly #cache: LRUCache<string, CachedRoute>;
  readonly #pending = new Map<string, Promise<TenantRoute | undefined>>();
  /** Bumped on every invalidation, so a lookup that started before it is not cached after it. */
  #epoch = 0;
  #listener: pg.Client | undefined;
  #listening = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;
  hits = 0;
  misses = 0;

  constructor(options: TenantDirectoryOptions) {
    super();
    this.#catalog = options.catalog;
    this.#url = options.controlDatabaseUrl;
    this.#logger = options.logger;
    this.#ttlMs = options.ttlMs ?? 30000;
    this.#fallbackTtlMs = options.fallbackTtlMs ?? CATALOG_CHANGE_BOUND_MS;
    this.#cache = new LRUCache({ max: options.maxEntries ?? 100000, ttl: this.#ttlMs });
  }

  /** Starts listening; resolves once the first LISTEN is in place (or has failed and will be retried). */
  async start(): Promise<void> {
    await this.#listen();
  }

  get listening(): boolean {
    return this.#listening;
  }

  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#url,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.payload) this.invalidate(message.payload);
    });
    client.on('error', (error) => this.#onListenerLost(client, error));
    client.on('end', () => this.#onListenerLost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${TENANT_CHANGED_CHANNEL}`);
      this.#listener = client;
      // Anything cached before the LISTEN took effect may have missed a notification.
      this.#clear();
      this.#listening = true;
    } catch (error) {
      this.#onListenerLost(client, error);
    }
  }

  #onListenerLost(client: pg.Client, error: unknown): void {
    if (this.#listener !== undefined && this.#listener !== client) return;
    const wasListening = this.#listening;
    this.#listening = false;
    this.#listener = undefined;
    client.end().catch(() => {});
    if (this.#closed) return;
    this.#clear();
    if (wasListening) this.#logger.warn({ err: error }, 'lost catalog change notifications; reconnecting');
    if (!this.#reconnectTimer) {
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        void this.#listen();
      }, 1000);
      this.#reconnectTimer.unref();
    }
  }

  #clear(): void {
    this.#epoch += 1;
    this.#cache.clear();
    this.#pending.clear();
  }

  /** The tenant's route, from cache when fresh; undefined for a tenant with no placement. */
  lookup(tenantId: string): Promise<TenantRoute | undefined> {
    const cached = this.#cache.get(tenantId);
    if (cached) {
      this.hits += 1;
      return Promise.resolve(cached.route);
    }
    this.misses += 1;
    let pending = this.#pending.get(tenantId);
    if (!pending) {
      const epoch = this.#epoch;
      pending = this.#catalog.tenantRoute(tenantId).then(
        (route) => {
          if (epoch === this.#epoch) {
            this.#cache.set(
              tenantId,
              { route },
              { ttl: this.#listening ? this.#ttlMs : this.#fallbackTtlMs },
            );
          }
          return route;
        },
        (error: unknown) => {
          // The catalog is a dependency like any other: its outage is a 503, not a 500.
          throw new UnavailableError('the control-plane catalog is unreachable', 'catalog_unavailable', {
            cause: error,
            retryAfterSeconds: 1,
          });
        },
      );
      const settled = pending.finally(() => {
        if (this.#pending.get(tenantId) === settled) this.#pending.delete(tenantId);
      });
      this.#pending.set(tenantId, settled);
      return settled;
    }
    return pending;
  }

  /** Drops one tenant from the cache here; other processes hear of it through NOTIFY. */
  invalidate(tenantId: string): void {
    this.#epoch += 1;
    this.#cache.delete(tenantId);
    this.#pending.delete(tenantId);
    this.emit('changed', tenantId);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const listener = this.#listener;
    this.#listener = undefined;
    this.#listening = false;
    await listener?.end().catch(() => {});
  }
}
