import { createServer, type Server } from 'node:http';
import type { Knex } from 'knex';
import { DevIssuer } from './auth/dev-issuer.js';
import type { TokenVerifier } from './auth/principal.js';
import { createTokenVerifier } from './auth/token-verifier.js';
import { LocalKeyProvider } from './backup/key-provider.js';
import { KmsKeyProvider } from './backup/kms-key-provider.js';
import type { ObjectStore } from './backup/object-store.js';
import { openObjectStore } from './backup/object-store-factory.js';
import { TenantKeyring } from './backup/tenant-keyring.js';
import { Catalog } from './catalog/catalog.js';
import { connectControlDatabase, migrateControlDatabase } from './catalog/control-database.js';
import { SecretBox } from './catalog/secret-box.js';
import { ALL_TENANTS, TenantDirectory } from './catalog/tenant-directory.js';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { createApp } from './http/app.js';
import { listen } from './http/listen.js';
import { InstanceRegistry } from './instances/instance-registry.js';
import { BullJobQueue } from './jobs/bullmq-job-queue.js';
import { InlineJobQueue } from './jobs/inline-job-queue.js';
import { jobHandlers } from './jobs/job-handlers.js';
import type { JobQueue } from './jobs/job-queue.js';
import { checkRedisEvictionPolicy } from './jobs/redis-eviction-policy.js';
import { TenantRateLimiter } from './limits/tenant-rate-limiter.js';
import { createLogger, type Logger } from './logging/logger.js';
import { Metrics } from './metrics/metrics.js';
import { FleetRunner } from './migrations/fleet-runner.js';
import { type DatabaseMigrationStatus, fleetStatus } from './migrations/fleet-status.js';
import { distributedExecutor } from './migrations/migration-jobs.js';
import { MigrationLedger } from './migrations/migration-ledger.js';
import { loadMigrations } from './migrations/migration-source.js';
import { DEFAULT_TENANT_MIGRATIONS_DIR } from './paths.js';
import type { ProvisioningContext } from './provisioning/provisioning-context.js';
import { ServerProvisioner } from './provisioning/server-provisioner.js';
import { ShardProvisioner } from './provisioning/shard-provisioner.js';
import { TenantProvisioner } from './provisioning/tenant-provisioner.js';
import { TenantRouter, type TenantRouterOptions } from './routing/tenant-router.js';

export interface TenantplaneOptions {
  config: Config;
  /** The control database URL to use; defaults to `config.controlDatabaseUrl` (embedded is resolved by the caller). */
  controlDatabaseUrl?: string;
  logger?: Logger;
  /** Folder of tenant migrations. Default: `TENANT_MIGRATIONS_DIR` or the package's `tenant-migrations/`. */
  tenantMigrationsDir?: string;
  /** Router tuning: pool counts, idle eviction, timeouts. */
  router?: Partial<Omit<TenantRouterOptions, 'catalog' | 'directory' | 'logger'>>;
  /** Redis key prefix of the job queues (default `JOBS_PREFIX` or `tenantplane`). */
  jobsPrefix?: string;
  /** Run `control migrate` on open. Default true. */
  migrate?: boolean;
  /** Serve tenant traffic (router, LISTEN connection). CLI commands that only provision pass false. */
  serveTraffic?: boolean;
  /**
   * Register in the catalog's `instances` table as a long-running process: `serve` (default with
   * serveTraffic: takes a share of every server's router budget) or `worker`. Short CLI commands do not.
   */
  instance?: 'serve' | 'worker';
  /** Instance registry tuning: heartbeat and lease, in ms (default: `config.instances`). */
  registry?: { heartbeatMs?: number; leaseMs?: number };
}

/**
 * The composition root: builds the catalog, router, provisioners and authentication from one config and
 * hands each its dependencies. Nothing else in tenantplane holds process-wide state.
 */
export class Tenantplane {
  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly controlDatabaseUrl: string,
    readonly knex: Knex,
    readonly catalog: Catalog,
    readonly servers: ServerProvisioner,
    readonly shards: ShardProvisioner,
    readonly tenants: TenantProvisioner,
    readonly directory: TenantDirectory | undefined,
    readonly router: TenantRouter | undefined,
    readonly verifier: TokenVerifier | undefined,
    readonly devIssuer: DevIssuer | undefined,
    readonly tenantMigrationsDir: string,
    readonly jobsPrefix: string,
    /** Where exports and backups are stored (BACKUP_URL). */
    readonly objectStore: ObjectStore,
    /** Backup data keys: per-tenant keys (crypto-shredding) over KMS, or the local development key. */
    readonly backupKeys: TenantKeyring,
    /** This process's registration (lease and budget share) among the running instances. */
    readonly registry: InstanceRegistry | undefined,
  ) {
    this.metrics = new Metrics({ tenantLabels: config.metrics.tenantLabels });
    this.ledger = new MigrationLedger(knex);
    this.jobs = config.redisUrl
      ? new BullJobQueue({
          redisUrl: config.redisUrl,
          prefix: jobsPrefix,
          queues: Object.keys(jobHandlers(this)),
          logger,
        })
      : new InlineJobQueue(jobHandlers(this));
    this.metrics.watchJobs(this.jobs);
    if (router) this.metrics.watchPools(router.pools);
    if (directory) this.metrics.watchCatalogCache(directory);
    // Counters live in the Redis the job queues use; the database prefix keeps deployments apart.
    this.rateLimiter =
      router && config.rateLimits
        ? new TenantRateLimiter({
            redisUrl: config.redisUrl,
            keyPrefix: `${jobsPrefix}:rate:${config.databasePrefix}`,
            logger,
          })
        : undefined;
  }

  /** Prometheus metrics of this instance, on its own registry. */
  readonly metrics: Metrics;

  /** Per-tenant request limits; undefined with RATE_LIMITS=off or without serveTraffic. */
  readonly rateLimiter: TenantRateLimiter | undefined;

  /** Background jobs: on BullMQ with REDIS_URL, else run inline in this process. */
  readonly jobs: JobQueue;

  /** The fleet migration ledger in the catalog. */
  readonly ledger: MigrationLedger;

  /** Set once shutdown has begun: `/ready` answers 503 so load balancers stop sending new requests. */
  draining = false;

  /**
   * A fleet runner over the tenant migrations as they are on disk now. `distributed` spreads the databases
   * over `tenantctl worker` processes through the job queue (needs REDIS_URL).
   */
  async fleetRunner(options: { distributed?: boolean } = {}): Promise<FleetRunner> {
    if (options.distributed && !this.jobs.distributed) {
      throw new ConfigError('distributed migrations need REDIS_URL and at least one `tenantctl worker`');
    }
    const migrations = await loadMigrations(this.tenantMigrationsDir);
    const runner = new FleetRunner({
      catalog: this.catalog,
      ledger: this.ledger,
      migrations,
      logger: this.logger,
      ...(options.distributed ? { executor: distributedExecutor(this.jobs) } : {}),
    });
    runner.on('event', (event) => {
      if (event.type === 'finish' && !event.dryRun) {
        this.metrics.recordMigrationRun(event.direction, event.status, event.failed);
      }
    });
    return runner;
  }

  /** Every database's applied migrations compared with the files, plus its latest ledger row. */
  async migrationStatus(): Promise<DatabaseMigrationStatus[]> {
    return fleetStatus(this.catalog, this.ledger, await loadMigrations(this.tenantMigrationsDir));
  }

  static async open(options: TenantplaneOptions): Promise<Tenantplane> {
    const { config } = options;
    const logger = options.logger ?? createLogger(config.logLevel);
    const url = options.controlDatabaseUrl ?? config.controlDatabaseUrl;
    if (!url) throw new ConfigError('CONTROL_DATABASE_URL is not set');
    if (options.migrate ?? true) await migrateControlDatabase(url);
    if (config.production && config.redisUrl) {
      await checkRedisEvictionPolicy(config.redisUrl, { production: true });
    }
    const secrets = config.catalogSecretKey
      ? SecretBox.fromBase64(config.catalogSecretKey)
      : await SecretBox.fromKeyFile(config.dataDir);
    const objectStore = openObjectStore(config.backupUrl, config.dataDir);
    const masterKey = config.kmsKeyId
      ? new KmsKeyProvider({ keyId: config.kmsKeyId })
      : await LocalKeyProvider.load(config.dataDir);
    const knex = connectControlDatabase(url);
    const catalog = new Catalog(knex, secrets);
    const context: ProvisioningContext = {
      catalog,
      databasePrefix: config.databasePrefix,
      tenantMigrationsDir:
        options.tenantMigrationsDir ?? config.tenantMigrationsDir ?? DEFAULT_TENANT_MIGRATIONS_DIR,
      logger,
    };
    let directory: TenantDirectory | undefined;
    let router: TenantRouter | undefined;
    let verifier: TokenVerifier | undefined;
    let devIssuer: DevIssuer | undefined;
    const serveTraffic = options.serveTraffic ?? true;
    const kind = options.instance ?? (serveTraffic ? 'serve' : undefined);
    if (kind === 'serve' && !serveTraffic) throw new TypeError('a serve instance serves traffic');
    const registry = kind
      ? new InstanceRegistry({ knex, kind, logger, ...config.instances, ...options.registry })
      : undefined;
    if (config.router.retiredMaxPools !== undefined) {
      logger.warn(
        'ROUTER_MAX_POOLS is retired and ignored: each server budget bounds the router connections',
      );
    }
    if (serveTraffic) {
      directory = new TenantDirectory({
        catalog,
        controlDatabaseUrl: url,
        logger,
        ...(registry ? { lease: registry } : {}),
      });
      // A server row may have changed (its admin URL replaced, say): new connections read its credentials
      // again. Only what the live channel says counts: while it is degraded every route is dropped each
      // second, but the credentials stay, so a catalog outage does not stop new connections to the servers.
      // Going live again drops them too, for a change missed meanwhile.
      directory.on('changed', (tenantId) => {
        if (tenantId === ALL_TENANTS && directory?.changeChannel === 'live')
          catalog.forgetServerCredentials();
      });
      await directory.start();
      const { retiredMaxPools: _retired, ...routerConfig } = config.router;
      router = new TenantRouter({
        ...routerConfig,
        ...options.router,
        catalog,
        directory,
        logger,
        ...(registry ? { lease: registry } : {}),
      });
      if (registry) registry.attach(router.pools);
      if (config.auth.jwksUrl && config.auth.issuer && config.auth.audience) {
        verifier = createTokenVerifier({
          issuer: config.auth.issuer,
          audience: config.auth.audience,
          keys: { jwksUrl: config.auth.jwksUrl },
          verifiedTokenCacheSize: config.auth.tokenCacheSize,
        });
      } else {
        devIssuer = await DevIssuer.load(config.dataDir);
        verifier = devIssuer.verifier({ verifiedTokenCacheSize: config.auth.tokenCacheSize });
      }
    }
    await registry?.start();
    return new Tenantplane(
      config,
      logger,
      url,
      knex,
      catalog,
      new ServerProvisioner(context),
      new ShardProvisioner(context),
      new TenantProvisioner(context),
      directory,
      router,
      verifier,
      devIssuer,
      context.tenantMigrationsDir,
      options.jobsPrefix ?? config.jobsPrefix,
      objectStore,
      new TenantKeyring({ knex, master: masterKey }),
      registry,
    );
  }

  /** Starts the HTTP API. */
  listen(port = this.config.port, host?: string): Promise<Server> {
    return listen(createServer(createApp(this)), port, host);
  }

  async close(): Promise<void> {
    await this.jobs.close();
    await this.rateLimiter?.close();
    await this.router?.close();
    // Once the router's connections are closed, its share of the budget may go to the others.
    await this.registry?.close();
    await this.directory?.close();
    await this.knex.destroy();
  }
}
