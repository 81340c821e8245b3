import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServerConnectionStats } from '../routing/elastic-pool.js';
import { HttpRequestSeries } from './http-request-series.js';
import { TopTenants } from './top-tenants.js';

/** The label every tenant shares once it is not among the tracked ones (no slug has underscores). */
export const OTHER_TENANTS = '__other__';

/** What the pool gauges read at scrape time (the router's ElasticPool). */
export interface PoolStats {
  serverStats(): ServerConnectionStats[];
}

/** What the catalog cache counters read at scrape time (the TenantDirectory). */
export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
}

/** Jobs per queue and state, read at scrape time from the job queue. */
export interface JobCounts {
  stateCounts(): Promise<Array<{ queue: string; state: string; count: number }>>;
}

export interface MetricsOptions {
  /** Tenants with a label of their own in `tenantplane_tenant_requests_total`. Default 100. */
  tenantLabels?: number;
  /** A scrape waits this long for the job queue's counts before leaving them out, in ms. Default 500. */
  jobCountTimeoutMs?: number;
}

/**
 * The service's Prometheus metrics, on a registry of its own (never prom-client's global one, so several
 * instances in one process stay apart), plus the per-request HTTP series (see `HttpRequestSeries`). Pool,
 * cache and job figures are read only when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly tenants: TopTenants;
  /** The request counter and duration histogram, recorded for every HTTP request. */
  readonly http = new HttpRequestSeries();
  readonly #jobRuns: Counter<'queue' | 'state'>;
  readonly #jobDuration: Histogram<'queue' | 'state'>;
  readonly #migrationRuns: Counter<'direction' | 'status'>;
  readonly #migrationFailures: Counter<'direction'>;
  readonly #jobCountTimeoutMs: number;

  constructor(options: MetricsOptions = {}) {
    this.tenants = new TopTenants(options.tenantLabels ?? 100);
    this.#jobCountTimeoutMs = options.jobCountTimeoutMs ?? 500;
    const registers = [this.registry];
    const tenants = this.tenants;
    new Counter({
      name: 'tenantplane_tenant_requests_total',
      help: `Application API requests per tenant, for the ${tenants.capacity} busiest (space-saving); the rest under tenant="${OTHER_TENANTS}"`,
      labelNames: ['tenant'],
      registers,
      collect() {
        this.reset();
        for (const [tenant, count] of tenants.counts()) this.inc({ tenant }, count);
        this.inc({ tenant: OTHER_TENANTS }, tenants.other);
      },
    });
    this.#jobRuns = new Counter({
      name: 'tenantplane_job_runs_total',
      help: 'Job attempts run in this process, by queue and outcome (completed or failed)',
      labelNames: ['queue', 'state'],
      registers,
    });
    this.#jobDuration = new Histogram({
      name: 'tenantplane_job_duration_seconds',
      help: 'Duration of job attempts run in this process, by queue and outcome',
      labelNames: ['queue', 'state'],
      buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 1800],
      registers,
    });
    this.#migrationRuns = new Counter({
      name: 'tenantplane_migration_runs_total',
      help: 'Fleet migration runs finished by this process, by direction and status',
      labelNames: ['direction', 'status'],
      registers,
    });
    this.#migrationFailures = new Counter({
      name: 'tenantplane_migration_database_failures_total',
      help: 'Databases whose migration failed in a fleet run finished by this process',
      labelNames: ['direction'],
      registers,
    });
  }

  recordJob(queue: string, state: 'completed' | 'failed', seconds: number): void {
    this.#jobRuns.inc({ queue, state });
    this.#jobDuration.observe({ queue, state }, seconds);
  }

  recordMigrationRun(direction: string, status: string, failedDatabases: number): void {
    this.#migrationRuns.inc({ direction, status });
    if (failedDatabases > 0) this.#migrationFailures.inc({ direction }, failedDatabases);
  }

  /** Databases with connections, connections in use and idle, this instance's limit and waiting requests, per server. */
  watchPools(source: PoolStats): void {
    const registers = [this.registry];
    new Gauge({
      name: 'tenantplane_router_pools_open',
      help: 'Databases this instance holds router connections to, per server',
      labelNames: ['server'],
      registers,
      collect() {
        this.reset();
        for (const server of source.serverStats()) this.set({ server: server.serverId }, server.databases);
      },
    });
    new Gauge({
      name: 'tenantplane_router_connections',
      help: 'Router connections per server, in use (opening and closing included) or idle',
      labelNames: ['server', 'state'],
      registers,
      collect() {
        this.reset();
        for (const server of source.serverStats()) {
          this.set({ server: server.serverId, state: 'in_use' }, server.open - server.idle);
          this.set({ server: server.serverId, state: 'idle' }, server.idle);
        }
      },
    });
    new Gauge({
      name: 'tenantplane_router_connection_limit',
      help: "Router connections this instance may hold per server: its share of the server's budget",
      labelNames: ['server'],
      registers,
      collect() {
        this.reset();
        for (const server of source.serverStats()) this.set({ server: server.serverId }, server.limit);
      },
    });
    new Gauge({
      name: 'tenantplane_router_waiting_requests',
      help: 'Requests waiting for a connection per server',
      labelNames: ['server'],
      registers,
      collect() {
        this.reset();
        for (const server of source.serverStats()) this.set({ server: server.serverId }, server.waiting);
      },
    });
  }

  /** Catalog cache lookups answered from the cache (hit) or by a catalog query (miss). */
  watchCatalogCache(source: CacheStats): void {
    new Counter({
      name: 'tenantplane_catalog_cache_lookups_total',
      help: 'Tenant route lookups by result: hit (cache) or miss (catalog query)',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ result: 'hit' }, source.hits);
        this.inc({ result: 'miss' }, source.misses);
      },
    });
  }

  /** Jobs per queue and state as the queue reports them (all instances' jobs with Redis). */
  watchJobs(source: JobCounts): void {
    const timeoutMs = this.#jobCountTimeoutMs;
    new Gauge({
      name: 'tenantplane_jobs',
      help: 'Jobs per queue and state (waiting, active, completed, failed, delayed)',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        // A scrape must not hang on Redis being down: the series are then simply absent.
        const timeout = new Promise<undefined>((resolve) => {
          setTimeout(() => resolve(undefined), timeoutMs).unref();
        });
        const counts = await Promise.race([source.stateCounts().catch(() => undefined), timeout]);
        for (const { queue, state, count } of counts ?? []) this.set({ queue, state }, count);
      },
    });
  }

  /** The Prometheus text exposition of every series. */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${this.http.exposition()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
