import type { Knex } from 'knex';
import type { DevIssuer } from '../auth/dev-issuer.js';
import type { ImpersonationIssuer } from '../auth/impersonation-issuer.js';
import type { TokenVerifier } from '../auth/principal.js';
import type { BackupServices } from '../backup/backup-jobs.js';
import type { ObjectStore } from '../backup/object-store.js';
import type { TenantKeyring } from '../backup/tenant-keyring.js';
import type { Catalog } from '../catalog/catalog.js';
import type { TenantDirectory } from '../catalog/tenant-directory.js';
import type { Config } from '../config.js';
import type { InstanceRegistry } from '../instances/instance-registry.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { TenantRateLimiter } from '../limits/tenant-rate-limiter.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { FleetMigrations } from '../migrations/fleet-migrations.js';
import type { MigrationLedger } from '../migrations/migration-ledger.js';
import type { MoveLedger } from '../moves/move-ledger.js';
import type { TenantMover } from '../moves/tenant-mover.js';
import type { PlacementPolicy } from '../placement/placement-policy.js';
import type { ServerProvisioner } from '../provisioning/server-provisioner.js';
import type { ShardProvisioner } from '../provisioning/shard-provisioner.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import type { TenantRouter, TenantRouterOptions } from '../routing/tenant-router.js';
import type { UsageMeter } from '../usage/usage-meter.js';

export interface PlaneOptions {
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

/** Where a process is in its life. */
export interface Lifecycle {
  /** Set once shutdown has begun: `/ready` answers 503 so load balancers stop sending new requests. */
  draining: boolean;
}

/** Every long-lived part of a plane that serves no tenant traffic, each built once from the config. */
export interface Services {
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
  /** Redis key prefix of the job queues. */
  readonly jobsPrefix: string;
  /** Where exports and backups are stored (BACKUP_URL). */
  readonly objectStore: ObjectStore;
  /** Backup data keys: per-tenant keys (crypto-shredding) over KMS, or the local development key. */
  readonly backupKeys: TenantKeyring;
  /** This process's registration (lease and budget share) among the running instances, if it is one. */
  readonly registry: InstanceRegistry | undefined;
  /** Prometheus metrics of this instance, on its own registry. */
  readonly metrics: Metrics;
  /** The fleet migration ledger in the catalog. */
  readonly ledger: MigrationLedger;
  /** Background jobs: on BullMQ with REDIS_URL, else run inline in this process. */
  readonly jobs: JobQueue;
  /** What runs each queue's jobs, by queue name (registered on an inline queue; a worker runs them). */
  readonly jobHandlers: Record<string, JobHandler>;
  /** Fleet migration runs and status. */
  readonly migrations: FleetMigrations;
  /** Tier moves in the catalog. */
  readonly moves: MoveLedger;
  /** Moves a tenant between placements (what a tier move job runs). */
  readonly mover: TenantMover;
  /** Export, backup and restore. */
  readonly backups: BackupServices;
  readonly lifecycle: Lifecycle;
  /** Closes every part, in the reverse order of their dependencies. */
  close(): Promise<void>;
}

/** The tenant-traffic parts of a serving plane. */
export interface ServingParts {
  /** A serving process is always a registered instance (`serve`, or a `worker` that serves). */
  readonly registry: InstanceRegistry;
  readonly directory: TenantDirectory;
  readonly router: TenantRouter;
  readonly verifier: TokenVerifier;
  /** The development token issuer, when no JWKS is configured. */
  readonly devIssuer: DevIssuer | undefined;
  /** Mints read-only impersonation tokens (the development issuer's, or signed with the catalog's key). */
  readonly impersonation: ImpersonationIssuer;
  /** Per-tenant request limits; undefined with RATE_LIMITS=off. */
  readonly rateLimiter: TenantRateLimiter | undefined;
  /** Counts each tenant's requests for billing and flushes them to the catalog; undefined with USAGE_METERING=off. */
  readonly usage: UsageMeter | undefined;
}

/** A plane that serves tenant traffic: everything of `Services`, and the router with what it needs. */
export interface ServingServices extends Services, ServingParts {
  readonly registry: InstanceRegistry;
}
