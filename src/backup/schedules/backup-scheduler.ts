import type { JobHandler, JobQueue } from '../../jobs/job-queue.js';
import type { Logger } from '../../logging/logger.js';
import type { BackupServices } from '../backup-jobs.js';
import type { ObjectStore } from '../object-store.js';
import { pruneBackups } from '../retention/backup-retention.js';
import { dropAbandonedScratchDatabases } from '../scratch-database.js';
import { BACKUP_SCHEDULE_QUEUE, runScheduleTick, SCHEDULE_TICK_MS, type TickData } from './schedule-tick.js';

const TICK_ID = 'backup-schedule-tick';

/**
 * How often a process's ticks also apply every tier's retention, beside the prune each backup job makes of
 * its own tenant: for backups that expire by age with no newer backup coming (a suspended tenant) and for
 * prunes that crashed halfway; drop the scratch databases killed drills and restores left on servers
 * where none has been made since (see dropAbandonedScratchDatabases); and remove the uploads killed
 * processes left in the backup store (see sweepAbandonedUploads).
 */
export const FULL_PRUNE_EVERY_MS = 3_600_000;

/**
 * How old a leftover upload must be before a tick removes it: longer than any upload can take. A file
 * store's put keeps writing its temporary file, so the file's mtime stays fresh while the upload runs; an
 * S3 multipart upload's age counts from its start, and one running for a day is not plausible.
 */
export const ABANDONED_UPLOAD_AGE_MS = 24 * 3_600_000;

/** The scheduler's tick as a job: see runScheduleTick. */
export function backupScheduleHandlers(deps: {
  backups: BackupServices;
  jobs: JobQueue;
}): Record<string, JobHandler> {
  const { logger, catalog, store, databasePrefix } = deps.backups.deps;
  let lastFullPrune = Number.NEGATIVE_INFINITY;
  const tick = async (data: TickData) => {
    try {
      const result = await runScheduleTick(deps, data);
      if (result.ran && performance.now() - lastFullPrune >= FULL_PRUNE_EVERY_MS) {
        lastFullPrune = performance.now();
        await pruneBackups({ knex: catalog.knex, store, logger });
        for (const server of await catalog.listServers()) {
          await dropAbandonedScratchDatabases({ catalog, serverId: server.id, databasePrefix }).catch(
            (error) =>
              logger.warn({ err: error, server: server.id }, 'dropping abandoned scratch databases failed'),
          );
        }
        await sweepAbandonedUploads(store, logger);
      }
      return result;
    } catch (error) {
      logger.warn({ err: error }, 'backup schedule tick failed; the next one retries');
      throw error;
    }
  };
  return { [BACKUP_SCHEDULE_QUEUE]: tick as JobHandler };
}

/** Removes the store's uploads older than ABANDONED_UPLOAD_AGE_MS; a failure is logged, and retried an hour on. */
async function sweepAbandonedUploads(store: ObjectStore, logger: Logger): Promise<void> {
  try {
    const removed = await store.sweepAbandonedUploads(new Date(Date.now() - ABANDONED_UPLOAD_AGE_MS));
    if (removed > 0) logger.info({ removed, store: store.location }, 'removed abandoned uploads');
  } catch (error) {
    logger.warn({ err: error, store: store.location }, 'removing abandoned uploads failed');
  }
}

/**
 * Makes the schedules run: with BullMQ, a job scheduler in Redis that every worker sets on start (the same
 * one, so a tick fires once per period however many workers there are, and keeps firing while any worker
 * runs); inline, a timer in this process (the serving process, without REDIS_URL), stopped when its queue
 * closes. `runner` names this process's instance: inline it is the one that runs the backups it starts.
 */
export async function startBackupSchedule(jobs: JobQueue, runner?: string): Promise<void> {
  await jobs.repeat(BACKUP_SCHEDULE_QUEUE, {
    id: TICK_ID,
    everyMs: SCHEDULE_TICK_MS,
    data: runner === undefined ? {} : { runner },
  });
}
