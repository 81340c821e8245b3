import { randomBytes } from 'node:crypto';
import type { Actor } from '../../catalog/catalog.js';
import { assertSlug } from '../../ids.js';
import type { JobContext, JobHandler, JobQueue } from '../../jobs/job-queue.js';
import type { BackupServices } from '../backup-jobs.js';
import { assertArchiveId } from '../backup-operations.js';
import { completeBackup } from '../backup-reader.js';
import { drillView } from './backup-drills.js';
import { drillBackup, newestCompleteBackup } from './restore-drill.js';

export const DRILL_QUEUE = 'backup-drill';

/** What a drill job receives. */
export interface DrillJobData {
  tenantId: string;
  backupId: string;
  actor: Actor;
}

export interface QueuedDrill {
  queue: string;
  jobId: string;
  backupId: string;
}

/**
 * Queues a restore drill of one of the tenant's backups (by default its newest complete one); the job's
 * result is the drill (see drillBackup). Each request is a drill of its own: drills change nothing, so
 * there is nothing to deduplicate. A drill is tried once: a failure is its result, recorded, not retried.
 */
export async function requestDrill(
  services: { backups: BackupServices; jobs: JobQueue },
  tenantId: string,
  options: { backupId?: unknown; actor: Actor },
): Promise<QueuedDrill> {
  const deps = services.backups.deps;
  assertSlug(tenantId);
  const backup =
    options.backupId === undefined
      ? await newestCompleteBackup(deps, tenantId)
      : await completeBackup(deps, tenantId, assertArchiveId(options.backupId));
  const jobId = `drill.${tenantId}.${backup.id}.${randomBytes(4).toString('hex')}`;
  const data: DrillJobData = { tenantId, backupId: backup.id, actor: options.actor };
  await services.jobs.enqueue(DRILL_QUEUE, data, { jobId, attempts: 1 });
  await deps.catalog.audit(options.actor, 'tenant.backup.drill.request', tenantId, {
    jobId,
    backupId: backup.id,
  });
  return { queue: DRILL_QUEUE, jobId, backupId: backup.id };
}

export function drillJobHandlers(backups: BackupServices): Record<string, JobHandler> {
  const drill = async (data: DrillJobData, context: JobContext) => {
    const tables: Record<string, { rows: number; bytes: number }> = {};
    const result = await drillBackup(backups.deps, data.tenantId, data.backupId, data.actor, {
      onProgress: (progress) => {
        tables[progress.table] = { rows: progress.rows, bytes: progress.bytes };
        void context.progress({ tables: { ...tables } }).catch(() => {});
      },
    });
    return drillView(result);
  };
  return { [DRILL_QUEUE]: drill as JobHandler };
}
