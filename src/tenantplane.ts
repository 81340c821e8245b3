import type { Server } from 'node:http';
import type { Knex } from 'knex';
import type { DevIssuer } from './auth/dev-issuer.js';
import type { ImpersonationIssuer } from './auth/impersonation-issuer.js';
import type { TokenVerifier } from './auth/principal.js';
import type { BackupServices } from './backup/backup-jobs.js';
import type { ObjectStore } from './backup/object-store.js';
import type { TenantKeyring } from './backup/tenant-keyring.js';
import type { Catalog } from './catalog/catalog.js';
import type { TenantDirectory } from './catalog/tenant-directory.js';
import type { Config } from './config.js';
import { listenApi } from './http/app.js';
import type { InstanceRegistry } from './instances/instance-registry.js';
import type { JobHandler, JobQueue } from './jobs/job-queue.js';
import type { TenantRateLimiter } from './limits/tenant-rate-limiter.js';
import type { Logger } from './logging/logger.js';
import type { Metrics } from './metrics/metrics.js';
import type { FleetMigrations } from './migrations/fleet-migrations.js';
import type { FleetRunner } from './migrations/fleet-runner.js';
import type { DatabaseMigrationStatus } from './migrations/fleet-status.js';
import type { MigrationLedger } from './migrations/migration-ledger.js';
import type { MoveLedger } from './moves/move-ledger.js';
import type { TenantMover } from './moves/tenant-mover.js';
import type { PlacementPolicy } from './placement/placement-policy.js';
import { openServices } from './plane/open-services.js';
import type { Lifecycle, PlaneOptions, Services, ServingServices } from './plane/services.js';
import type { ServerProvisioner } from './provisioning/server-provisioner.js';
import type { ShardProvisioner } from './provisioning/shard-provisioner.js';
import type { TenantProvisioner } from './provisioning/tenant-provisioner.js';
import type { TenantRouter } from './routing/tenant-router.js';
import type { UsageMeter } from './usage/usage-meter.js';

export type TenantplaneOptions = PlaneOptions;

/**
 * tenantplane as a library: the services a plane is built from (see openServices), opened from one config.
 * `Tenantplane.open()` gives a `ServingTenantplane` (router, token verifier, change channel) unless asked
 * for `serveTraffic: false`.
 */
export class Tenantplane implements Services {
  readonly config: Config;
  readonly logger: Logger;
  readonly controlDatabaseUrl: string;
  readonly knex: Knex;
  readonly catalog: Catalog;
  /** Where a tenant may go: tenant creation and moves ask it, and nothing else decides. */
  readonly placement: PlacementPolicy;
  readonly servers: ServerProvisioner;
  readonly shards: ShardProvisioner;
  readonly tenants: TenantProvisioner;
  readonly tenantMigrationsDir: string;
  readonly jobsPrefix: string;
  /** Where exports and backups are stored (BACKUP_URL). */
  readonly objectStore: ObjectStore;
  /** Backup data keys: per-tenant keys (crypto-shredding) over KMS, or the local development key. */
  readonly backupKeys: TenantKeyring;
  /** This process's registration (lease and budget share) among the running instances. */
  readonly registry: InstanceRegistry | undefined;
  /** Prometheus metrics of this instance, on its own registry. */
  readonly metrics: Metrics;
  /** The fleet migration ledger in the catalog. */
  readonly ledger: MigrationLedger;
  /** Background jobs: on BullMQ with REDIS_URL, else run inline in this process. */
  readonly jobs: JobQueue;
  readonly jobHandlers: Record<string, JobHandler>;
  readonly migrations: FleetMigrations;
  readonly moves: MoveLedger;
  readonly mover: TenantMover;
  readonly backups: BackupServices;
  readonly lifecycle: Lifecycle;
  readonly #close: () => Promise<void>;

  protected constructor(services: Services) {
    this.config = services.config;
    this.logger = services.logger;
    this.controlDatabaseUrl = services.controlDatabaseUrl;
    this.knex = services.knex;
    this.catalog = services.catalog;
    this.placement = services.placement;
    this.servers = services.servers;
    this.shards = services.shards;
    this.tenants = services.tenants;
    this.tenantMigrationsDir = services.tenantMigrationsDir;
    this.jobsPrefix = services.jobsPrefix;
    this.objectStore = services.objectStore;
    this.backupKeys = services.backupKeys;
    this.registry = services.registry;
    this.metrics = services.metrics;
    this.ledger = services.ledger;
    this.jobs = services.jobs;
    this.jobHandlers = services.jobHandlers;
    this.migrations = services.migrations;
    this.moves = services.moves;
    this.mover = services.mover;
    this.backups = services.backups;
    this.lifecycle = services.lifecycle;
    this.#close = () => services.close();
  }

  static open(options: TenantplaneOptions & { serveTraffic: false }): Promise<Tenantplane>;
  static open(options: TenantplaneOptions & { serveTraffic?: true }): Promise<ServingTenantplane>;
  static open(options: TenantplaneOptions): Promise<Tenantplane>;
  static async open(options: TenantplaneOptions): Promise<Tenantplane> {
    const services = await openServices(options);
    return 'router' in services ? new ServingTenantplane(services) : new Tenantplane(services);
  }

  /** Set once shutdown has begun: `/ready` answers 503 so load balancers stop sending new requests. */
  get draining(): boolean {
    return this.lifecycle.draining;
  }

  set draining(draining: boolean) {
    this.lifecycle.draining = draining;
  }

  /** A fleet runner over the tenant migrations as they are on disk now (see FleetMigrations). */
  fleetRunner(options: { distributed?: boolean } = {}): Promise<FleetRunner> {
    return this.migrations.runner(options);
  }

  /** Every database's applied migrations compared with the files, plus its latest ledger row. */
  migrationStatus(): Promise<DatabaseMigrationStatus[]> {
    return this.migrations.status();
  }

  close(): Promise<void> {
    return this.#close();
  }
}

/** A plane that serves tenant traffic: its router, token verifier and change channel are always there. */
export class ServingTenantplane extends Tenantplane implements ServingServices {
  override readonly registry: InstanceRegistry;
  readonly directory: TenantDirectory;
  readonly router: TenantRouter;
  readonly verifier: TokenVerifier;
  /** The development token issuer, when no JWKS is configured. */
  readonly devIssuer: DevIssuer | undefined;
  /** Mints read-only impersonation tokens. */
  readonly impersonation: ImpersonationIssuer;
  /** Per-tenant request limits; undefined with RATE_LIMITS=off. */
  readonly rateLimiter: TenantRateLimiter | undefined;
  /** Counts each tenant's requests for billing; undefined with USAGE_METERING=off. */
  readonly usage: UsageMeter | undefined;

  constructor(services: ServingServices) {
    super(services);
    this.registry = services.registry;
    this.directory = services.directory;
    this.router = services.router;
    this.verifier = services.verifier;
    this.devIssuer = services.devIssuer;
    this.impersonation = services.impersonation;
    this.rateLimiter = services.rateLimiter;
    this.usage = services.usage;
  }

  /** Starts the HTTP API. */
  listen(port = this.config.port, host?: string): Promise<Server> {
    return listenApi(this, port, host);
  }
}
