import type { JobHandler, JobQueue } from '../../jobs/job-queue.js';
import type { BackupServices } from '../backup-jobs.js';
import { BACKUP_SCHEDULE_QUEUE, runScheduleTick, SCHEDULE_TICK_MS, type TickData } from './schedule-tick.js';

const TICK_ID = 'backup-schedule-tick';

/** The scheduler's tick as a job: see runScheduleTick. */
export function backupScheduleHandlers(deps: {
  backups: BackupServices;
  jobs: JobQueue;
}): Record<string, JobHandler> {
  const tick = async (data: TickData) => {
    try {
      return await runScheduleTick(deps, data);
    } catch (error) {
      deps.backups.deps.logger.warn({ err: error }, 'backup schedule tick failed; the next one retries');
      throw error;
    }
  };
  return { [BACKUP_SCHEDULE_QUEUE]: tick as JobHandler };
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
