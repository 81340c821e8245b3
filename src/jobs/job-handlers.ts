import {
  BACKUP_QUEUE,
  type BackupServices,
  backupJobHandlers,
  EXPORT_QUEUE,
  RESTORE_QUEUE,
} from '../backup/backup-jobs.js';
import { DRILL_QUEUE, drillJobHandlers } from '../backup/drills/drill-jobs.js';
import { backupScheduleHandlers } from '../backup/schedules/backup-scheduler.js';
import { BACKUP_SCHEDULE_QUEUE } from '../backup/schedules/schedule-tick.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics/metrics.js';
import {
  MIGRATION_RUN_QUEUE,
  MIGRATION_TARGET_QUEUE,
  type MigrationJobDeps,
  migrationJobHandlers,
} from '../migrations/migration-jobs.js';
import { moveJobHandlers, TENANT_MOVE_QUEUE } from '../moves/move-jobs.js';
import type { TenantMover } from '../moves/tenant-mover.js';
import {
  placementJobHandlers,
  SERVER_DRAIN_QUEUE,
  SHARD_REBALANCE_QUEUE,
} from '../placement/placement-jobs.js';
import type { DrainDeps } from '../placement/server-drain.js';
import { USAGE_SAMPLE_QUEUE, usageSampleHandlers } from '../usage/usage-sampler.js';
import { instrumentedHandlers } from './instrumented-handlers.js';
import type { JobHandler, JobQueue } from './job-queue.js';

/** Every queue tenantplane runs jobs on, known before any handler is built. */
export const JOB_QUEUES = [
  MIGRATION_TARGET_QUEUE,
  MIGRATION_RUN_QUEUE,
  TENANT_MOVE_QUEUE,
  SERVER_DRAIN_QUEUE,
  SHARD_REBALANCE_QUEUE,
  EXPORT_QUEUE,
  BACKUP_QUEUE,
  RESTORE_QUEUE,
  BACKUP_SCHEDULE_QUEUE,
  DRILL_QUEUE,
  USAGE_SAMPLE_QUEUE,
];

/** What the jobs run with: the services they call. */
export interface JobHandlerDeps extends Omit<MigrationJobDeps, 'catalog'>, DrainDeps {
  mover: Pick<TenantMover, 'move'>;
  backups: BackupServices;
  /** The queue the scheduler's tick requests backups on. */
  jobs: JobQueue;
  metrics: Pick<Metrics, 'recordJob'>;
  /** The usage sampler applies USAGE_RETENTION_DAYS. */
  config: Pick<Config, 'usage'>;
}

/** Every kind of job tenantplane runs, by queue name. */
export function jobHandlers(deps: JobHandlerDeps): Record<string, JobHandler> {
  return instrumentedHandlers(
    {
      ...migrationJobHandlers(deps),
      ...moveJobHandlers(deps),
      ...placementJobHandlers(deps),
      ...backupJobHandlers(deps.backups),
      ...drillJobHandlers(deps.backups),
      ...backupScheduleHandlers(deps),
      ...usageSampleHandlers(deps),
    },
    deps.metrics,
  );
}
