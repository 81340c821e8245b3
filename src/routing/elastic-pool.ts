import type pg from 'pg';
import { CredentialsError, databaseUnavailableError, UnavailableError } from '../errors/index.js';
import type { InstanceLease } from '../instances/instance-lease.js';
import type { Logger } from '../logging/logger.js';
import { LossReportingClient } from '../postgres/connection-loss.js';
import { tenantStartupOption } from '../tenant-session/tenant-binding.js';
import { tracingOn } from '../tracing/spans.js';
import { tracePoolAcquire } from '../tracing/tenant-spans.js';
import { connectFailure } from './connect-failure.js';

/** Where a connection goes and how many this process may hold there. */
export interface PoolTarget {
  databaseId: string;
  databaseName: string;
  serverId: string;
  /** Most connections to this database at once (the tier's pool size, or the shard pool size). */
  poolSize: number;
  /** Connections all routers together may hold on the server; this process holds its share of it. */
  serverBudget: number;
  /**
   * The tenant every connection acts as, set in its startup packet: for a dedicated database, whose
   * statements then run without setting the tenant each time. Unset for a shard.
   */
  tenantId?: string;
}

/** What a connection needs besides the database name: host, port, role and password (and TLS settings). */
export type ServerCredentials = Pick<pg.ClientConfig, 'host' | 'port' | 'user' | 'password' | 'ssl'>;

export interface ElasticPoolOptions {
  /** Application-role credentials of a server; called for each new connection (the catalog caches them). */
  credentials: (serverId: string) => Promise<ServerCredentials>;
  logger: Logger;
  /** An idle connection unused this long is closed, in ms. Default 60000. */
  idleMs?: number;
  /** How long a request waits for a connection before 503, in ms. Default 2000. */
  acquireTimeoutMs?: number;
  /** After a server refuses a connection, requests needing a new one there fail fast this long, in ms. Default 1000. */
  serverDownMs?: number;
  /** `application_name` of every connection, so an operator can tell whose it is. Default `tenantplane`. */
  applicationName?: string;
  /**
   * This instance's registration: past its lease another instance may have taken this one's share, so no
   * connection is kept or opened then. Without it the share set by `setShare` is trusted as it is.
   */
  lease?: InstanceLease;
}

/** One server as this process's router holds it (see `ElasticPool.serverStats`). */
export interface ServerConnectionStats {
  serverId: string;
  /** Databases with connections (open, opening or closing) or waiting requests. */
  databases: number;
  /** Connections held: open, opening or closing. */
  open: number;
  /** Of those, idle. */
  idle: number;
  /** How many this process may hold: its share of the budget. */
  limit: number;
  /** The budget for all instances' routers. */
  budget: number;
  /** Requests waiting for a connection. */
  waiting: number;
}

/** What a checked-out connection is: a pg client whose `release(error?)` hands it back (or discards it). */
export type PooledClient = pg.PoolClient;

const MILLION = 1_000_000;

interface Connection {
  client: PooledClient;
  database: DatabasePool;
  state: 'opening' | 'idle' | 'busy' | 'closing';
  /** The session failed or the server closed it: never reuse it. */
  broken: boolean;
  /** performance.now() when it last went idle. */
  idleSince: number;
}

interface DatabasePool {
  target: PoolTarget;
  server: ServerSlot;
  /** Idle connections, most recently used last. */
  idle: Connection[];
  /** Connections open, opening or closing. */
  open: number;
  /** Evicted (tenant moved or deleted): its connections close as they come back. */
  retired: boolean;
}

interface Waiter {
  database: DatabasePool;
  resolve: (client: PooledClient) => void;
  reject: (error: Error) => void;
  /** Answered: with a connection, or with an error once its time ran out. */
  settled: boolean;
  /** A connection is being opened for it (it left the queue). */
  opening: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface ServerSlot {
  id: string;
  /** The latest budget for all routers on this server (from the routes that use it). */
  budget: number;
  /** Connections open, opening or closing: counted until the socket is closed. */
  open: number;
  /** Connections being closed (still counted in `open`): each frees a place once its socket has closed. */
  closing: number;
  /** Idle connections of every database on this server, least recently used first (Set keeps insertion order). */
  idle: Set<Connection>;
  /** Requests waiting for a connection on this server, oldest first. */
  waiters: Waiter[];
  downUntil: number;
}

/**
 * The router's connections: one elastic pool per database, within one connection limit per server.
 *
 * A database's pool grows with demand up to its `poolSize` and shrinks as connections stay idle. Every
 * connection counts against its server's limit from the moment it starts opening until its socket has
 * closed; the limit is this process's share (`setShare`) of the server's budget for all routers. When a
 * server is at its limit and a request needs a connection to a database with none idle, the least recently
 * used idle connection on that server (whichever database it belongs to) is closed to make room: only as
 * many as there are requests waiting, and never one with work in flight. Requests that cannot be served
 * within `acquireTimeoutMs` get a 503.
 */
export class ElasticPool {
  readonly #credentials: ElasticPoolOptions['credentials'];
  readonly #logger: Logger;
  readonly #idleMs: number;
  readonly #acquireTimeoutMs: number;
  readonly #serverDownMs: number;
  readonly #applicationName: string;
  readonly #lease: InstanceLease | undefined;
  readonly #databases = new Map<string, DatabasePool>();
  readonly #servers = new Map<string, ServerSlot>();
  readonly #sweepTimer: NodeJS.Timeout;
  /** This process's share of every server's budget, in millionths. */
  #sharePpm = MILLION;
  #closed = false;
  #allClosed: (() => void) | undefined;

  constructor(options: ElasticPoolOptions) {
    this.#credentials = options.credentials;
    this.#logger = options.logger;
    this.#idleMs = options.idleMs ?? 60000;
    this.#acquireTimeoutMs = options.acquireTimeoutMs ?? 2000;
    this.#serverDownMs = options.serverDownMs ?? 1000;
    this.#applicationName = options.applicationName ?? 'tenantplane';
    this.#lease = options.lease;
    for (const [name, value] of [
      ['idleMs', this.#idleMs],
      ['acquireTimeoutMs', this.#acquireTimeoutMs],
      ['serverDownMs', this.#serverDownMs],
    ] as const) {
      if (!(Number.isFinite(value) && value > 0)) throw new TypeError(`${name} must be a positive number`);
    }
    this.#sweepTimer = setInterval(() => this.#closeIdleExpired(), Math.min(this.#idleMs / 2, 5000));
    this.#sweepTimer.unref();
  }

  /** A connection to the target's database; hand it back with `client.release()` (or `release(error)`). */
  connect(target: PoolTarget): Promise<PooledClient> {
    return tracingOn() ? tracePoolAcquire(target, () => this.#acquire(target)) : this.#acquire(target);
  }

  #acquire(target: PoolTarget): Promise<PooledClient> {
    const database = this.#databases.get(target.databaseId) ?? this.#addDatabase(target);
    const connection = database.idle.pop();
    if (connection !== undefined) {
      database.server.idle.delete(connection);
      connection.state = 'busy';
      return Promise.resolve(connection.client);
    }
    return this.#wait(database, target);
  }

  #addDatabase(target: PoolTarget): DatabasePool {
    if (this.#closed) throw new UnavailableError('the router is shutting down', 'shutting_down');
    let server = this.#servers.get(target.serverId);
    if (server === undefined) {
      server = {
        id: target.serverId,
        budget: target.serverBudget,
        open: 0,
        closing: 0,
        idle: new Set(),
        waiters: [],
        downUntil: 0,
      };
      this.#servers.set(server.id, server);
    }
    const database: DatabasePool = { target, server, idle: [], open: 0, retired: false };
    this.#databases.set(target.databaseId, database);
    return database;
  }

  #wait(database: DatabasePool, target: PoolTarget): Promise<PooledClient> {
    if (this.#closed) {
      return Promise.reject(new UnavailableError('the router is shutting down', 'shutting_down'));
    }
    // The route may carry a newer pool size or budget than when the pool was made.
    database.target = target;
    const { server } = database;
    server.budget = target.serverBudget;
    const downFor = server.downUntil - Date.now();
    if (downFor > 0) return Promise.reject(serverDown(server.id, downFor));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { database, resolve, reject, settled: false, opening: false, timer: undefined };
      // Runs on while a connection is opened for it: the whole wait is bounded, the connect included.
      waiter.timer = setTimeout(() => this.#timeOut(waiter), this.#acquireTimeoutMs);
      server.waiters.push(waiter);
      this.#dispatch(server);
    });
  }

  #timeOut(waiter: Waiter): void {
    removeWaiter(waiter.database.server, waiter);
    const { databaseId } = waiter.database.target;
    const error = waiter.opening
      ? // Its own connection was on the way: the server (or the catalog) is slow, not the pool full.
        new UnavailableError(
          `no connection to ${databaseId} within ${this.#acquireTimeoutMs} ms: the server did not accept one in time`,
          'database_unavailable',
          { retryAfterSeconds: 1 },
        )
      : new UnavailableError(
          `no connection to ${databaseId} within ${this.#acquireTimeoutMs} ms: the server's connections are busy`,
          'pool_exhausted',
          { retryAfterSeconds: 1 },
        );
    settle(waiter, undefined, error);
  }

  /** The most connections this process may hold on the server now. */
  #limit(server: ServerSlot): number {
    if (this.#lease !== undefined && this.#lease.validUntil() <= performance.now()) return 0;
    return Math.floor((server.budget * this.#sharePpm) / MILLION);
  }

  /**
   * Serves the server's waiters in arrival order: an idle connection of their database, else a new one if
   * the server is below its limit and the database below its pool size, else room made by closing the
   * server's least recently used idle connection (whichever database it belongs to; this runs again once
   * it has closed). A waiter that needs room takes the idle connection before a later waiter of that
   * connection's database can, so a cold database is not starved by busy ones.
   */
  #dispatch(server: ServerSlot): void {
    const limit = this.#limit(server);
    // Places that the closings under way will free, each for one waiter that needs room; negative while
    // the server is over its limit (a lowered share), when only the excess closing helps.
    let room = limit - (server.open - server.closing);
    for (let index = 0; index < server.waiters.length; ) {
      const waiter = server.waiters[index]!;
      const { database } = waiter;
      const idle = database.idle.pop();
      if (idle !== undefined) {
        server.idle.delete(idle);
        server.waiters.splice(index, 1);
        idle.state = 'busy';
        settle(waiter, idle.client);
        continue;
      }
      index += 1;
      if (database.open >= database.target.poolSize) continue;
      if (server.open < limit) {
        server.waiters.splice(index - 1, 1);
        index -= 1;
        room -= 1;
        this.#open(database, waiter);
        continue;
      }
      if (room > 0) {
        room -= 1;
        continue;
      }
      const victim = room < 0 ? undefined : oldest(server.idle);
      // Its place goes to this waiter once it has closed (this runs again then).
      if (victim !== undefined) this.#close(victim);
    }
  }

  #open(database: DatabasePool, waiter: Waiter): void {
    const { server, target } = database;
    database.open += 1;
    server.open += 1;
    waiter.opening = true;
    void this.#credentials(server.id)
      .catch((error: unknown) => {
        // The catalog failed, not the server: nothing to mark down.
        throw new CredentialsError(error);
      })
      .then((credentials) => {
        const client = new LossReportingClient({
          ...credentials,
          ...(target.tenantId === undefined ? {} : { options: tenantStartupOption(target.tenantId) }),
          database: target.databaseName,
          application_name: this.#applicationName,
          connectionTimeoutMillis: this.#acquireTimeoutMs,
          keepAlive: true,
        }) as PooledClient;
        const connection: Connection = { client, database, state: 'opening', broken: false, idleSince: 0 };
        client.on('error', (error) => this.#lost(connection, error));
        client.on('end', () => this.#lost(connection, undefined));
        client.release = (error?: Error | boolean) => this.#release(connection, error);
        return client.connect().then(
          () => this.#opened(connection, waiter),
          (error: unknown) => {
            connection.broken = true;
            client.end().catch(() => {});
            throw error;
          },
        );
      })
      .catch((error: unknown) => this.#openFailed(database, waiter, error));
  }

  #opened(connection: Connection, waiter: Waiter): void {
    // Busy until the waiter has it; if the waiter gave up meanwhile, the release makes it idle for the next.
    connection.state = 'busy';
    if (!connection.broken && !this.#closed && !waiter.settled) {
      settle(waiter, connection.client);
      return;
    }
    settle(waiter, undefined, serverDown(connection.database.server.id, 0));
    this.#release(connection, undefined);
  }

  #openFailed(database: DatabasePool, waiter: Waiter, error: unknown): void {
    const { server } = database;
    database.open -= 1;
    server.open -= 1;
    if (error instanceof CredentialsError) {
      const cause = error.cause;
      settle(waiter, undefined, databaseUnavailableError(cause) ?? (cause instanceof Error ? cause : error));
      this.#settled(server);
      return;
    }
    const failure = connectFailure(server.id, error, this.#serverDownMs);
    if (failure.serverDown) {
      server.downUntil = Date.now() + this.#serverDownMs;
      this.#logger.warn({ server: server.id, err: error }, 'database server unreachable');
      // Everyone waiting for a new connection there would wait for the same refusal.
      for (const other of server.waiters.splice(0)) settle(other, undefined, failure.error);
    } else {
      this.#logger.warn(
        { server: server.id, database: database.target.databaseId, err: error },
        'connect failed',
      );
    }
    settle(waiter, undefined, failure.error);
    this.#settled(server);
  }

  #release(connection: Connection, error: Error | boolean | undefined): void {
    if (connection.state !== 'busy') return;
    const { database } = connection;
    const { server } = database;
    if (
      error ||
      connection.broken ||
      database.retired ||
      this.#closed ||
      server.open - server.closing > this.#limit(server) ||
      database.open > database.target.poolSize
    ) {
      this.#close(connection);
      return;
    }
    connection.state = 'idle';
    connection.idleSince = performance.now();
    database.idle.push(connection);
    server.idle.add(connection);
    if (server.waiters.length > 0) this.#dispatch(server);
  }

  /** A connection's session ended or failed: an idle one goes at once, a busy one when it is released. */
  #lost(connection: Connection, error: Error | undefined): void {
    if (connection.broken) return;
    connection.broken = true;
    if (error) {
      this.#logger.warn(
        { database: connection.database.target.databaseId, err: error },
        'database connection lost',
      );
    }
    if (connection.state === 'idle') this.#close(connection);
  }

  /** Ends the session; its place in the budget is freed once the socket has closed. */
  #close(connection: Connection): void {
    if (connection.state === 'closing') return;
    connection.state = 'closing';
    const { database } = connection;
    const { server } = database;
    server.closing += 1;
    if (server.idle.delete(connection)) {
      const index = database.idle.indexOf(connection);
      if (index >= 0) database.idle.splice(index, 1);
    }
    const ended = connection.client.end();
    // A session the server already dropped may never report its end: its socket is gone either way.
    const timer = setTimeout(() => socketOf(connection.client).destroy(), 2000);
    ended
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        server.closing -= 1;
        this.#forget(connection);
      });
  }

  /** The connection's socket is closed: its place in the budget is free. */
  #forget(connection: Connection): void {
    const { database } = connection;
    database.open -= 1;
    database.server.open -= 1;
    if (database.open === 0 && this.#databases.get(database.target.databaseId) === database) {
      // Kept only while it has connections or waiters: an idle fleet of 100,000 tenants costs nothing.
      if (!database.server.waiters.some((waiter) => waiter.database === database)) {
        this.#databases.delete(database.target.databaseId);
      }
    }
    this.#settled(database.server);
  }

  #settled(server: ServerSlot): void {
    if (server.waiters.length > 0) this.#dispatch(server);
    if (this.#closed && this.#allClosed && this.openConnections() === 0) this.#allClosed();
  }

  #closeIdleExpired(): void {
    const oldestAllowed = performance.now() - this.#idleMs;
    for (const server of this.#servers.values()) {
      for (const connection of server.idle) {
        if (connection.idleSince > oldestAllowed) break;
        this.#close(connection);
      }
    }
  }

  /**
   * Sets this process's share of every server's budget, in millionths. Lowering it closes idle connections
   * above the new limit now and busy ones as they are released; raising it serves waiting requests.
   */
  setShare(ppm: number): void {
    if (!(Number.isInteger(ppm) && ppm >= 0 && ppm <= MILLION)) {
      throw new RangeError('share must be an integer from 0 to 1000000');
    }
    this.#sharePpm = ppm;
    for (const server of this.#servers.values()) {
      const limit = this.#limit(server);
      // Closings under way already count: a repeated call does not close more than the excess.
      while (server.open - server.closing > limit) {
        const victim = oldest(server.idle);
        if (victim === undefined) break;
        this.#close(victim);
      }
      if (server.waiters.length > 0) this.#dispatch(server);
    }
  }

  /** Whether this process holds no more connections on any server than `ppm` of its budget allows. */
  holdsWithin(ppm: number): boolean {
    for (const server of this.#servers.values()) {
      if (server.open > Math.floor((server.budget * ppm) / MILLION)) return false;
    }
    return true;
  }

  /** Closes the database's connections (busy ones once released), e.g. when its tenant moved or was deleted. */
  evict(databaseId: string): void {
    const database = this.#databases.get(databaseId);
    if (database === undefined) return;
    database.retired = true;
    this.#databases.delete(databaseId);
    for (const connection of [...database.idle]) this.#close(connection);
  }

  /**
   * Evicts every database whose connections act as `tenantId` (its own databases, whatever their ids: a move
   * to another server gives it a new one), e.g. when the tenant changed.
   */
  evictTenant(tenantId: string): void {
    for (const [databaseId, database] of [...this.#databases]) {
      if (database.target.tenantId === tenantId) this.evict(databaseId);
    }
  }

  /** Per database with connections or waiters: its pool size, connections open, idle and waiting requests. */
  stats(): Array<{
    databaseId: string;
    serverId: string;
    size: number;
    total: number;
    idle: number;
    waiting: number;
  }> {
    return [...this.#databases.values()].map((database) => ({
      databaseId: database.target.databaseId,
      serverId: database.server.id,
      size: database.target.poolSize,
      total: database.open,
      idle: database.idle.length,
      waiting: database.server.waiters.filter((waiter) => waiter.database === database).length,
    }));
  }

  /** Per server: what this process holds there, may hold, and has waiting. */
  serverStats(): ServerConnectionStats[] {
    const databases = new Map<ServerSlot, number>();
    for (const database of this.#databases.values()) {
      databases.set(database.server, (databases.get(database.server) ?? 0) + 1);
    }
    return [...this.#servers.values()].map((server) => ({
      serverId: server.id,
      databases: databases.get(server) ?? 0,
      open: server.open,
      idle: server.idle.size,
      limit: this.#limit(server),
      budget: server.budget,
      waiting: server.waiters.length,
    }));
  }

  /** Connections held on one server (open, opening or closing). */
  openOn(serverId: string): number {
    return this.#servers.get(serverId)?.open ?? 0;
  }

  openConnections(): number {
    let open = 0;
    for (const server of this.#servers.values()) open += server.open;
    return open;
  }

  /** Refuses new requests and closes every connection once its work is done. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    const done = new Promise<void>((resolve) => {
      this.#allClosed = resolve;
    });
    for (const server of this.#servers.values()) {
      for (const waiter of server.waiters.splice(0)) {
        settle(waiter, undefined, new UnavailableError('the router is shutting down', 'shutting_down'));
      }
      for (const connection of [...server.idle]) this.#close(connection);
    }
    if (this.openConnections() > 0) await done;
  }
}

function oldest(idle: Set<Connection>): Connection | undefined {
  for (const connection of idle) return connection;
  return undefined;
}

function removeWaiter(server: ServerSlot, waiter: Waiter): void {
  const index = server.waiters.indexOf(waiter);
  if (index >= 0) server.waiters.splice(index, 1);
}

/** Answers a waiter once: with a connection, or with the error. */
function settle(waiter: Waiter, client: PooledClient | undefined, error?: Error): void {
  if (waiter.settled) return;
  waiter.settled = true;
  if (waiter.timer) clearTimeout(waiter.timer);
  if (client !== undefined) waiter.resolve(client);
  else waiter.reject(error!);
}

/** pg's socket of a client (its Connection is untyped in @types/pg). */
function socketOf(client: pg.Client): { destroy(): void } {
  return (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream;
}

function serverDown(serverId: string, forMs: number): UnavailableError {
  return new UnavailableError(`database server ${serverId} is unreachable`, 'database_unavailable', {
    retryAfterSeconds: Math.max(1, Math.ceil(forMs / 1000)),
  });
}
