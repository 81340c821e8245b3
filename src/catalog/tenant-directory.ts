import { EventEmitter } from 'node:events';
import net from 'node:net';
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { UnavailableError } from '../errors/index.js';
import type { InstanceLease } from '../instances/instance-lease.js';
import type { Logger } from '../logging/logger.js';
import type { Catalog } from './catalog.js';
import type { TenantRoute } from './records.js';

/** The channel the catalog's trigger notifies on every change to a tenant row. */
export const TENANT_CHANGED_CHANNEL = 'tenantplane_tenant_changed';

/** `application_name` of the LISTEN connection, so it can be found in `pg_stat_activity`. */
export const CHANGES_APPLICATION_NAME = 'tenantplane-changes';

/**
 * The tenant id `changed` carries when every tenant's view may have changed at once (the change channel
 * was lost or came back): listeners treat every handle they gave out as possibly stale. No tenant has it.
 */
export const ALL_TENANTS = '*';

/**
 * How stale a router's view of a tenant can be while the change channel is degraded, in ms: lookups are
 * cached this long then (notifications arrive within milliseconds while it is live).
 */
export const CATALOG_CHANGE_BOUND_MS = 1000;

/** `live`: the LISTEN connection answered its last round trip in time. `degraded`: it did not, or is gone. */
export type ChangeChannelState = 'live' | 'degraded';

export interface TenantDirectoryOptions {
  catalog: Catalog;
  /** Control database URL for the LISTEN connection. */
  controlDatabaseUrl: string;
  logger: Logger;
  /**
   * How long a lookup is cached while the change channel is live, in ms. Default 300000: every change to
   * a tenant, tier, server or database row is notified, and the channel proves itself twice a second, so
   * this only bounds how long an entry lives, not how stale it can be.
   */
  ttlMs?: number;
  /** How long a lookup is cached while the change channel is degraded, in ms (at most 1000). Default 1000. */
  fallbackTtlMs?: number;
  /** Most tenants cached. Default 100000. */
  maxEntries?: number;
  /** How often the LISTEN connection proves it is alive with a round trip, in ms. Default 500. */
  heartbeatIntervalMs?: number;
  /** How long a round trip (or the LISTEN once connected) may take before the channel counts as lost, in ms. Default 1000. */
  heartbeatTimeoutMs?: number;
  /** How long a catalog lookup may take before it fails with 503 `catalog_unavailable`, in ms. Default 2000. */
  lookupTimeoutMs?: number;
  /**
   * This process's registration in `instances`. With it the directory publishes `instances.catalog_snapshot`,
   * which tier moves wait for, and keeps serving the routes it has while the catalog cannot be reached
   * for as long as the lease certainly holds. Without it (standalone use) neither happens.
   */
  lease?: InstanceLease;
}

interface CachedRoute {
  route: TenantRoute | undefined;
  /** performance.now() when the catalog query was sent: the route is what the catalog held at some later time. */
  readAt: number;
  /** Served without asking the catalog until then, as long as the channel's era has not changed. */
  freshUntil: number;
  era: number;
}

interface PendingLookup {
  promise: Promise<TenantRoute | undefined>;
  readAt: number;
  /** A change of the tenant (or of the channel) came in while the query ran: its answer may predate it. */
  superseded: boolean;
}

interface Listener {
  client: pg.Client;
  /** Tears the socket down at once: a half-open connection's graceful end would never finish. */
  destroy(): void;
}

/** A lookup retries this often when changes of its tenant keep arriving while it runs, then gives up (503). */
const MAX_LOOKUP_ATTEMPTS = 5;
/** After a failed lookup, tenants with a route to fall back on skip the catalog this long. */
const CATALOG_DOWN_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
const SNAPSHOT_SQL = 'SELECT pg_current_snapshot()::text AS snapshot';
/**
 * Publishes a snapshot S as the instance's confirmation: every transaction S sees as completed is reflected
 * in its routing. Only ever forward (a snapshot taken later has an xmax at least as high). `catalog_xmin`,
 * S's xmin, is what instances of the version before read.
 */
const PUBLISH_SQL = `UPDATE instances
    SET catalog_snapshot = $1::pg_snapshot,
        catalog_xmin = GREATEST(catalog_xmin, pg_snapshot_xmin($1::pg_snapshot))
  WHERE id = $2
    AND (catalog_snapshot IS NULL OR pg_snapshot_xmax(catalog_snapshot) <= pg_snapshot_xmax($1::pg_snapshot))`;
/** The same through knex, whose bindings are `?`: the snapshot, the snapshot, the id, the snapshot. */
const PUBLISH_SQL_KNEX = PUBLISH_SQL.replaceAll('$1', '?').replace('$2', '?');

/**
 * Catalog lookups for the router, cached, and invalidated in every process by the catalog's NOTIFY as soon
 * as a tenant is suspended, deleted or moved.
 *
 * The LISTEN connection is trusted only while it proves itself: a round trip every `heartbeatIntervalMs`
 * that must answer within `heartbeatTimeoutMs`. Until it does (not yet connected, a round trip failed or
 * timed out, the connection broke) the channel is `degraded`: the socket is destroyed (a half-open one
 * cannot linger), nothing cached so far is served without asking the catalog again, lookups are cached for
 * `fallbackTtlMs` only, and a new connection is tried in the background.
 *
 * With a lease it publishes `instances.catalog_snapshot` (see #liveRound and #degradedRound for why each value
 * is safe), and when a lookup cannot reach the catalog it answers from the last route it had, but only
 * while `lease.validUntil()` is ahead: until then a move still waits for this instance.
 *
 * Emits `changed` with the tenant id after each invalidation, and with ALL_TENANTS when every tenant's
 * view may have changed; `channel` with the new state whenever the change channel goes live or degraded.
 */
export class TenantDirectory extends EventEmitter<{
  changed: [tenantId: string];
  channel: [state: ChangeChannelState];
}> {
  readonly #catalog: Catalog;
  readonly #url: string;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #fallbackTtlMs: number;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #lookupTimeoutMs: number;
  readonly #lease: InstanceLease | undefined;
  readonly #cache: LRUCache<string, CachedRoute>;
  readonly #pending = new Map<string, PendingLookup>();
  /** Bumped whenever the channel goes live or degraded: entries of an earlier era are no longer fresh. */
  #era = 0;
  #channel: ChangeChannelState = 'degraded';
  /** The channel was live once (coming back is worth a line in the log). */
  #wasLive = false;
  /** Connection attempts that failed since the channel was last live: the first is a warning, the rest debug. */
  #failedAttempts = 0;
  #listener: Listener | undefined;
  /** The connection being opened, destroyed if the directory closes meanwhile. */
  #opening: Listener | undefined;
  #connecting: Promise<void> | undefined;
  /** The snapshot the live channel read in its last round, published in the next one. */
  #liveSnapshot: string | undefined;
  /** The snapshot read while degraded, and when; published once every entry older than it has expired. */
  #degradedRead: { snapshot: string; at: number } | undefined;
  #catalogDownUntil = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /**
   * Rounds to run back to back, without waiting for the heartbeat interval: a tenant change came in, and a
   * move (or a delete) is waiting for this instance to confirm it. Two rounds publish a snapshot that sees it.
   */
  #promptRounds = 0;
  #closed = false;
  hits = 0;
  misses = 0;
  /** Lookups answered from a route kept for a catalog outage. */
  fallbacks = 0;

  constructor(options: TenantDirectoryOptions) {
    super();
    this.#catalog = options.catalog;
    this.#url = options.controlDatabaseUrl;
    this.#logger = options.logger;
    this.#ttlMs = options.ttlMs ?? 300000;
    this.#fallbackTtlMs = Math.min(options.fallbackTtlMs ?? CATALOG_CHANGE_BOUND_MS, CATALOG_CHANGE_BOUND_MS);
    this.#intervalMs = options.heartbeatIntervalMs ?? 500;
    this.#timeoutMs = options.heartbeatTimeoutMs ?? 1000;
    this.#lookupTimeoutMs = options.lookupTimeoutMs ?? 2000;
    this.#lease = options.lease;
    this.#cache = new LRUCache({ max: options.maxEntries ?? 100000 });
  }

  /** Connects the change channel; resolves once it is live or the first attempt failed (retried in the background). */
  async start(): Promise<void> {
    await this.#connect();
    this.#loop ??= this.#run();
  }

  get changeChannel(): ChangeChannelState {
    return this.#channel;
  }

  /** The tenant's route, from cache when fresh; undefined for a tenant with no placement. */
  lookup(tenantId: string): Promise<TenantRoute | undefined> {
    return this.#lookup(tenantId, 1);
  }

  #lookup(tenantId: string, attempt: number): Promise<TenantRoute | undefined> {
    const cached = this.#cache.get(tenantId);
    const now = performance.now();
    if (cached && cached.era === this.#era && cached.freshUntil > now) {
      this.hits += 1;
      return Promise.resolve(cached.route);
    }
    this.misses += 1;
    if (cached && now < this.#catalogDownUntil && this.#leaseHolds()) {
      this.fallbacks += 1;
      return Promise.resolve(cached.route);
    }
    const pending = this.#pending.get(tenantId);
    if (pending) return pending.promise;
    return this.#fetch(tenantId, attempt);
  }

  #fetch(tenantId: string, attempt: number): Promise<TenantRoute | undefined> {
    const era = this.#era;
    const ttl = this.#channel === 'live' ? this.#ttlMs : this.#fallbackTtlMs;
    const lookup: PendingLookup = {
      promise: undefined as never,
      readAt: performance.now(),
      superseded: false,
    };
    const settled = () => {
      if (this.#pending.get(tenantId) === lookup) this.#pending.delete(tenantId);
    };
    lookup.promise = within(
      this.#catalog.tenantRoute(tenantId),
      this.#lookupTimeoutMs,
      'catalog lookup',
    ).then(
      (route) => {
        settled();
        this.#catalogDownUntil = 0;
        if (lookup.superseded) {
          // A caller must not get an answer older than a change this process has already heard of: the
          // router takes no second look at a handle made after the change.
          if (attempt >= MAX_LOOKUP_ATTEMPTS) {
            throw new UnavailableError(`tenant ${tenantId} keeps changing; retry`, 'catalog_unavailable', {
              retryAfterSeconds: 1,
            });
          }
          return this.#lookup(tenantId, attempt + 1);
        }
        // The era is unchanged (a new one supersedes every pending lookup), so the channel is as it was.
        this.#cache.set(tenantId, { route, readAt: lookup.readAt, freshUntil: lookup.readAt + ttl, era });
        return route;
      },
      (error: unknown) => {
        settled();
        this.#catalogDownUntil = performance.now() + CATALOG_DOWN_MS;
        const known = this.#cache.get(tenantId);
        if (known && this.#leaseHolds()) {
          this.fallbacks += 1;
          return known.route;
        }
        // The catalog is a dependency like any other: its outage is a 503, not a 500.
        throw new UnavailableError('the control-plane catalog is unreachable', 'catalog_unavailable', {
          cause: error,
          retryAfterSeconds: 1,
        });
      },
    );
    this.#pending.set(tenantId, lookup);
    return lookup.promise;
  }

  /**
   * A kept route may stand in for the catalog only while a move still waits for this instance: until its
   * lease could have lapsed. Every kept route is consistent with what this instance last published (entries
   * older than a published degraded-mode snapshot are dropped before it is published, see #degradedRound).
   */
  #leaseHolds(): boolean {
    return this.#lease !== undefined && this.#lease.validUntil() > performance.now();
  }

  /**
   * Drops one tenant from the cache here, or every tenant for ALL_TENANTS (a tier, server or database
   * changed); other processes hear of it through NOTIFY.
   */
  invalidate(tenantId: string): void {
    if (tenantId === ALL_TENANTS) {
      this.#newEra(false);
      return;
    }
    this.#cache.delete(tenantId);
    const pending = this.#pending.get(tenantId);
    if (pending) {
      pending.superseded = true;
      this.#pending.delete(tenantId);
    }
    this.emit('changed', tenantId);
  }

  /**
   * A new era: nothing cached so far is fresh, lookups in flight are asked again, and listeners re-check
   * every handle. `keep`: entries stay as routes to fall back on during a catalog outage.
   */
  #newEra(keep: boolean): void {
    this.#era += 1;
    if (!keep) this.#cache.clear();
    this.#supersedePending(Number.POSITIVE_INFINITY);
    this.emit('changed', ALL_TENANTS);
  }

  #supersedePending(before: number): void {
    for (const [tenantId, pending] of this.#pending) {
      if (pending.readAt < before) {
        pending.superseded = true;
        this.#pending.delete(tenantId);
      }
    }
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#promptRounds > 0 ? 0 : this.#intervalMs);
        timer.unref();
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#closed) return;
      const listener = this.#listener;
      if (this.#promptRounds > 0) this.#promptRounds -= 1;
      if (listener) {
        await this.#liveRound(listener);
      } else {
        void this.#connect();
        await this.#degradedRound();
      }
    }
  }

  /**
   * One round trip on the live channel: reads the current snapshot, and publishes the snapshot read in the
   * round before.
   *
   * Why that value is safe: every transaction a snapshot S sees as completed had ended when S was read, so
   * a tenant change among them had committed and signalled this LISTEN backend by then (the signal follows
   * the commit within microseconds). PostgreSQL sends pending notifications before ReadyForQuery, and pg
   * emits `notification` (which invalidates synchronously) as it parses them, before the query's answer.
   * A whole round later, after the next round trip's answer, every such notification has therefore been
   * handled here: each changed tenant's entry is gone, its in-flight lookups will be asked again, and the
   * router re-checks the handles it gave out. Publishing S only after that answer (not inside the same
   * round trip) keeps notifications still on the wire out of the claim.
   *
   * A snapshot rather than its xmin: a move waits for the pausing transaction to be visible in it, which a
   * long transaction elsewhere on the server (a backup's snapshot, say) does not hold back as it holds back
   * the server's oldest running xid.
   */
  async #liveRound(listener: Listener): Promise<void> {
    try {
      const { rows } = await within(
        listener.client.query<{ snapshot: string }>(SNAPSHOT_SQL),
        this.#timeoutMs,
        'change channel round trip',
      );
      const previous = this.#liveSnapshot;
      this.#liveSnapshot = rows[0]!.snapshot;
      if (this.#lease && previous !== undefined && this.#listener === listener) {
        await within(
          listener.client.query(PUBLISH_SQL, [previous, this.#lease.id]),
          this.#timeoutMs,
          'catalog confirmation',
        );
      }
    } catch (error) {
      this.#lost(listener, error);
    }
  }

  /**
   * While degraded (with a lease): read a snapshot X on the catalog's pool, and once `fallbackTtlMs` has
   * passed, publish it.
   *
   * Why that value is safe: every change X sees as completed had committed when X was read, so any catalog
   * query sent after that read sees it. An entry is fresh for at most `fallbackTtlMs` from when its query
   * was sent (entries of the live era stopped being fresh when the channel degraded), so once that long has
   * passed every fresh entry was read after X. Before publishing, routes kept for a catalog outage that
   * were read before X are dropped, lookups sent before X are asked again, and listeners are told to
   * re-check every handle (ALL_TENANTS), so nothing this instance routes predates X.
   */
  async #degradedRound(): Promise<void> {
    if (!this.#lease || this.#closed) return;
    try {
      const read = this.#degradedRead;
      if (read && performance.now() >= read.at + this.#fallbackTtlMs) {
        if (this.#channel !== 'degraded') return;
        this.#forgetReadBefore(read.at);
        await within(
          this.#catalog.knex.raw(PUBLISH_SQL_KNEX, [
            read.snapshot,
            read.snapshot,
            this.#lease.id,
            read.snapshot,
          ]),
          this.#timeoutMs,
          'catalog confirmation',
        );
        this.#degradedRead = undefined;
      }
      if (!this.#degradedRead && this.#channel === 'degraded') {
        const result = await within(
          this.#catalog.knex.raw<{ rows: { snapshot: string }[] }>(SNAPSHOT_SQL),
          this.#timeoutMs,
          'catalog snapshot',
        );
        // Taken after the answer arrived, so any query sent from now on was sent after X was read.
        if (this.#channel === 'degraded')
          this.#degradedRead = { snapshot: result.rows[0]!.snapshot, at: performance.now() };
      }
    } catch (error) {
      this.#logger.debug({ err: error }, 'catalog confirmation while degraded failed; retrying');
    }
  }

  #forgetReadBefore(at: number): void {
    const stale: string[] = [];
    for (const [tenantId, entry] of this.#cache.entries()) if (entry.readAt < at) stale.push(tenantId);
    for (const tenantId of stale) this.#cache.delete(tenantId);
    this.#supersedePending(at);
    this.emit('changed', ALL_TENANTS);
  }

  /** Opens the LISTEN connection unless one is open or opening; resolves when this attempt is over. */
  #connect(): Promise<void> {
    if (this.#closed || this.#listener) return Promise.resolve();
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    let socket: net.Socket | undefined;
    const client = new pg.Client({
      connectionString: withApplicationName(this.#url),
      application_name: CHANGES_APPLICATION_NAME,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      // Our own socket, so a silent one can be destroyed rather than ended politely (which never finishes).
      stream: () => {
        socket = new net.Socket();
        return socket;
      },
    });
    const listener: Listener = {
      client,
      destroy: () => {
        socket?.destroy();
        client.end().catch(() => {});
      },
    };
    client.on('notification', (message) => {
      if (message.payload) this.invalidate(message.payload);
      // Confirm the change now rather than within two heartbeat intervals: it may be a move's pause,
      // which lasts until every serving instance has confirmed it.
      if (this.#lease) {
        this.#promptRounds = 2;
        this.#wake?.();
      }
    });
    client.on('error', (error) => this.#lost(listener, error));
    client.on('end', () => this.#lost(listener, new Error('connection ended')));
    this.#opening = listener;
    try {
      await within(client.connect(), CONNECT_TIMEOUT_MS, 'change channel connect');
      await within(client.query(`LISTEN ${TENANT_CHANGED_CHANNEL}`), this.#timeoutMs, 'LISTEN');
      // The first snapshot right away, so the first confirmation goes out one round from now.
      const { rows } = await within(
        client.query<{ snapshot: string }>(SNAPSHOT_SQL),
        this.#timeoutMs,
        'change channel round trip',
      );
      if (this.#closed) {
        listener.destroy();
        return;
      }
      this.#listener = listener;
      this.#liveSnapshot = rows[0]!.snapshot;
      this.#degradedRead = undefined;
      this.#channel = 'live';
      // Anything cached before the LISTEN took effect may have missed a notification.
      this.#newEra(false);
      this.emit('channel', 'live');
      if (this.#wasLive) this.#logger.info('catalog change notifications are live again');
      this.#wasLive = true;
      this.#failedAttempts = 0;
    } catch (error) {
      listener.destroy();
      const message = 'catalog change notifications: connecting failed; degraded, retrying';
      if (this.#failedAttempts++ === 0 && !this.#closed) this.#logger.warn({ err: error }, message);
      else this.#logger.debug({ err: error }, message);
    } finally {
      this.#opening = undefined;
    }
  }

  #lost(listener: Listener, error: unknown): void {
    listener.destroy();
    if (this.#listener !== listener) return;
    this.#listener = undefined;
    this.#liveSnapshot = undefined;
    if (this.#closed) return;
    this.#channel = 'degraded';
    this.#newEra(true);
    this.emit('channel', 'degraded');
    this.#logger.warn({ err: error }, 'catalog change notifications lost; degraded until reconnected');
    void this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    const listener = this.#listener;
    this.#listener = undefined;
    this.#channel = 'degraded';
    this.#opening?.destroy();
    if (listener)
      await within(listener.client.end(), this.#timeoutMs, 'close').catch(() => listener.destroy());
    await this.#connecting;
  }
}

/** The URL naming the connection CHANGES_APPLICATION_NAME (pg lets a URL's own name win over the option). */
function withApplicationName(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    url.searchParams.set('application_name', CHANGES_APPLICATION_NAME);
    return url.toString();
  } catch {
    return connectionString;
  }
}

/** The promise's outcome, or a rejection after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
