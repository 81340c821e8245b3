import { BackupCatalog } from '../backup/backup-catalog.js';
import type { BackupServices } from '../backup/backup-jobs.js';
import { BackupRequests } from '../backup/backup-requests.js';
import type { ObjectStore } from '../backup/object-store.js';
import { BackupSchedules } from '../backup/schedules/backup-schedules.js';
import type { TenantKeyring } from '../backup/tenant-keyring.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config.js';
import { BullJobQueue } from '../jobs/bullmq-job-queue.js';
import { InlineJobQueue } from '../jobs/inline-job-queue.js';
import { JOB_QUEUES, jobHandlers } from '../jobs/job-handlers.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { FleetMigrations } from '../migrations/fleet-migrations.js';
import type { MigrationLedger } from '../migrations/migration-ledger.js';
import { createTenantMover } from '../moves/move-jobs.js';
import { MoveLedger } from '../moves/move-ledger.js';
import type { PlacementPolicy } from '../placement/placement-policy.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import type { Services } from './services.js';

export type JobServices = Pick<
  Services,
  'jobs' | 'jobHandlers' | 'migrations' | 'moves' | 'mover' | 'backups'
>;

/** The queue, and how handlers come to run on it: an inline queue runs them itself, BullMQ's workers do. */
function openJobQueue(
  config: Config,
  prefix: string,
  logger: Logger,
): { jobs: JobQueue; register(handlers: Record<string, JobHandler>): void } {
  if (config.redisUrl) {
    const jobs = new BullJobQueue({ redisUrl: config.redisUrl, prefix, queues: JOB_QUEUES, logger });
    return { jobs, register: () => {} };
  }
  const inline = new InlineJobQueue();
  return { jobs: inline, register: (handlers) => inline.register(handlers) };
}

/**
 * The job queue and the services whose work runs as jobs, in that order: the services that queue work hold
 * the queue, and the handlers, built from the services, are registered on it last.
 */
export function buildJobServices(parts: {
  config: Config;
  logger: Logger;
  catalog: Catalog;
  tenants: TenantProvisioner;
  placement: PlacementPolicy;
  objectStore: ObjectStore;
  backupKeys: TenantKeyring;
  metrics: Metrics;
  ledger: MigrationLedger;
  tenantMigrationsDir: string;
  controlDatabaseUrl: string;
  jobsPrefix: string;
}): JobServices {
  const { config, logger, catalog, metrics, tenantMigrationsDir } = parts;
  const { jobs, register } = openJobQueue(config, parts.jobsPrefix, logger);
  metrics.watchJobs(jobs);
  const migrations = new FleetMigrations({
    catalog,
    ledger: parts.ledger,
    migrationsDir: tenantMigrationsDir,
    logger,
    metrics,
    jobs,
  });
  const mover = createTenantMover(parts);
  const backups: BackupServices = {
    deps: {
      catalog,
      backups: new BackupCatalog(catalog.knex),
      store: parts.objectStore,
      keys: parts.backupKeys,
      tenants: parts.tenants,
      databasePrefix: config.databasePrefix,
      migrationsDir: tenantMigrationsDir,
      logger,
      controlDatabaseUrl: parts.controlDatabaseUrl,
    },
    requests: new BackupRequests(catalog.knex, jobs),
    dataDir: config.dataDir,
    schedules: new BackupSchedules(catalog.knex),
  };
  const handlers = jobHandlers({
    catalog,
    migrations,
    mover,
    backups,
    jobs,
    metrics,
    placement: parts.placement,
    logger,
    config,
  });
  register(handlers);
  return { jobs, jobHandlers: handlers, migrations, moves: new MoveLedger(catalog.knex), mover, backups };
}
