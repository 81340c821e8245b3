import { databaseUnavailableError, TenantplaneError } from '../errors/index.js';
import type { JobContext, JobHandler } from '../jobs/job-queue.js';
import type { BackupRecord } from './backup-catalog.js';
import { deliverBackup } from './backup-delivery.js';
import type { BackupRequests, RequestJobData, RequestOutcome } from './backup-requests.js';
import { openObjectStore } from './object-store-factory.js';
import { pruneBackups } from './retention/backup-retention.js';
import type { BackupSchedules } from './schedules/backup-schedules.js';
import { exportTenant } from './tenant-export.js';
import { type RestoreDeps, restoreTenant } from './tenant-restore.js';

export const EXPORT_QUEUE = 'tenant-export';
export const BACKUP_QUEUE = 'tenant-backup';
export const RESTORE_QUEUE = 'tenant-restore';

/** Export, backup and restore, built once by the composition root: what they need and their requests. */
export interface BackupServices {
  /** Catalog, backup rows, backup store, keys and provisioner: everything export, backup and restore use. */
  deps: RestoreDeps;
  /** The requests behind the jobs: idempotency keys and recorded outcomes. */
  requests: BackupRequests;
  /** The data folder, for export targets given as URLs (`export --to`). */
  dataDir: string;
  /** Backup schedules and retention per tier. */
  schedules: BackupSchedules;
}

/** The API's view of a backup row. */
export function backupView(backup: BackupRecord) {
  return {
    id: backup.id,
    tenant_id: backup.tenantId,
    state: backup.state,
    object_key: backup.objectKey,
    size_bytes: backup.sizeBytes,
    sha256: backup.sha256,
    schema_version: backup.schemaVersion,
    key_id: backup.keyId,
    row_counts: backup.rowCounts,
    created_at: backup.createdAt,
    completed_at: backup.completedAt,
    error: backup.error,
    held: backup.held,
  };
}

/** Per-table progress, reported as the job's progress object. */
function progressReporter(context: JobContext) {
  const tables: Record<string, { rows: number; bytes: number }> = {};
  return (progress: { table: string; rows: number; bytes: number }) => {
    tables[progress.table] = { rows: progress.rows, bytes: progress.bytes };
    void context.progress({ tables: { ...tables } }).catch(() => {});
  };
}

export function backupJobHandlers(backups: BackupServices): Record<string, JobHandler> {
  const { deps, requests } = backups;
  const finish = (requestId: string, outcome: RequestOutcome) => requests.finish(requestId, outcome);
  /**
   * Runs a request's work; once it succeeds, or fails on its last attempt, the request is finished with its
   * result or error, so the next one starts new work and a replay answers with this outcome instead of
   * running the work again. `giveUp` cleans up what a failed request leaves behind.
   */
  const job =
    (
      work: (data: RequestJobData, context: JobContext) => Promise<unknown>,
      giveUp?: (data: RequestJobData, error: unknown) => Promise<void>,
    ) =>
    async (data: RequestJobData, context: JobContext) => {
      try {
        const result = await work(data, context);
        await finish(data.requestId, { state: 'completed', result });
        return result;
      } catch (error) {
        if (context.attempt >= data.attempts) {
          await giveUp?.(data, error).catch((cleanup) =>
            deps.logger.error({ err: cleanup, request: data.requestId }, 'cleanup after a failed job failed'),
          );
          await finish(data.requestId, {
            state: 'failed',
            error: error instanceof Error ? error.message : String(error),
            // A server that went away mid-load fails with pg's or the socket's error, which says so by its
            // code: recorded as the 503 it means, like every other job failure.
            errorCode: error instanceof TenantplaneError ? error.code : databaseUnavailableError(error)?.code,
          });
        }
        throw error;
      }
    };

  const exportJob = job(async (data, context) => {
    const to = data.params.to as string | undefined;
    const store = to === undefined ? deps.store : openObjectStore(to, backups.dataDir);
    const result = await exportTenant({ ...deps, store }, data.tenantId, {
      exportId: data.requestId,
      onProgress: progressReporter(context),
    });
    await deps.catalog.audit(data.actor, 'tenant.export', data.tenantId, {
      exportId: result.exportId,
      location: result.location,
    });
    return {
      export_id: result.exportId,
      location: result.location,
      manifest_key: result.manifestKey,
      schema_version: result.manifest.schemaVersion,
      tables: result.manifest.tables.map((table) => ({ name: table.name, rows: table.rows, key: table.key })),
    };
  });

  // A delivery may be a retry, or a second delivery of a job taken for stalled while the first still runs:
  // see deliverBackup, which never replaces a stored backup object.
  const backupJob = job(
    async (data, context) => {
      const backup = await deliverBackup(deps, data.tenantId, data.requestId, {
        compress: data.params.compress === true,
        onProgress: progressReporter(context),
      });
      // Once per backup, however many deliveries finished it.
      const audited = await deps.catalog
        .knex('audit_log')
        .where({ tenant_id: data.tenantId, action: 'tenant.backup' })
        .whereRaw("details->>'backupId' = ?", [backup.id])
        .first('id');
      if (!audited) {
        await deps.catalog.audit(data.actor, 'tenant.backup', data.tenantId, {
          backupId: backup.id,
          sizeBytes: backup.sizeBytes,
        });
      }
      // Retention, now that the tenant has a newer complete backup (only a tier with a schedule has one).
      await pruneBackups(
        { knex: deps.catalog.knex, store: deps.store, logger: deps.logger },
        { tenantId: data.tenantId },
      ).catch((error) =>
        deps.logger.warn({ err: error, tenant: data.tenantId }, 'prune after backup failed'),
      );
      return backupView(backup);
    },
    // Failed for good: the row says failed and the object goes, unless the backup is complete (a step
    // after it failed), in which case both stay as they are.
    async (data, error) => {
      await deps.backups.release(data.requestId, (backup) => deps.store.delete(backup.objectKey), {
        fail: (error as Error).message,
      });
    },
  );

  const restoreJob = job(async (data, context) => {
    const into = data.params.into as string | undefined;
    const tier = data.params.tier as string | undefined;
    const result = await restoreTenant(deps, data.tenantId, data.params.backupId as string, {
      actor: data.actor,
      onProgress: progressReporter(context),
      ...(into === undefined ? {} : { into }),
      ...(tier === undefined ? {} : { tier }),
    });
    return {
      tenant_id: result.tenantId,
      backup_id: result.backupId,
      restored_into: result.restoredInto,
      migrated_forward: result.migratedForward,
      tables: result.tables,
    };
  });

  return {
    [EXPORT_QUEUE]: exportJob as JobHandler,
    [BACKUP_QUEUE]: backupJob as JobHandler,
    [RESTORE_QUEUE]: restoreJob as JobHandler,
  };
}
