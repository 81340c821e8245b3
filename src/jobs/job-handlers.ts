import { migrationJobHandlers } from '../migrations/migration-jobs.js';
import type { Tenantplane } from '../tenantplane.js';
import type { JobHandler } from './job-queue.js';

/** Every kind of job tenantplane runs, by queue name. */
export function jobHandlers(tp: Tenantplane): Record<string, JobHandler> {
  return { ...migrationJobHandlers(tp) };
}
