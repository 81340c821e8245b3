import { backupJobHandlers } from '../backup/backup-jobs.js';
import { migrationJobHandlers } from '../migrations/migration-jobs.js';
import { moveJobHandlers } from '../moves/move-jobs.js';
import type { Tenantplane } from '../tenantplane.js';
import { instrumentedHandlers } from './instrumented-handlers.js';
import type { JobHandler } from './job-queue.js';

/** Every kind of job tenantplane runs, by queue name. */
export function jobHandlers(tp: Tenantplane): Record<string, JobHandler> {
  return instrumentedHandlers(
    { ...migrationJobHandlers(tp), ...moveJobHandlers(tp), ...backupJobHandlers(tp) },
    tp.metrics,
  );
}
