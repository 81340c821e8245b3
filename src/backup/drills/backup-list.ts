import { type BackupServices, backupView } from '../backup-jobs.js';
import { BackupDrills, type DrillRecord } from './backup-drills.js';

/** A backup's last drill as lists show it: passed or not, when, how long, and what it checked. */
export function lastDrillView(drill: DrillRecord | undefined) {
  if (!drill) return null;
  return {
    id: drill.id,
    passed: drill.passed,
    finished_at: drill.finishedAt,
    duration_ms: drill.details.timings_ms?.total ?? null,
    method: drill.details.method ?? null,
    error: drill.details.error ?? null,
  };
}

/** The tenant's backups, newest first, each with its last finished restore drill (or null). */
export async function listBackupsWithDrills(backups: BackupServices, tenantId: string) {
  const list = await backups.deps.backups.list(tenantId);
  const drills = await new BackupDrills(backups.deps.catalog.knex).lastOf(list.map((backup) => backup.id));
  return list.map((backup) => ({ ...backupView(backup), last_drill: lastDrillView(drills.get(backup.id)) }));
}
