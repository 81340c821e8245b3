import type { Knex } from 'knex';
import type { Actor } from '../../catalog/catalog.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import type { BackupServices } from '../backup-jobs.js';
import { requestDrill } from '../drills/drill-jobs.js';
import { drillSlotsFor } from '../drills/drill-slots.js';
import { SLOT_OFFSET_SQL } from './slot-offset.js';

/** Drills queued per tick at most; the rest stay due for the next ticks. */
const DRILL_BATCH = 100;

/**
 * Tenants of a tier with a drill cadence whose drill slot is due (slots as for backups: spread by a hash of
 * the tenant id within `drill_every_seconds`, a missed slot run once), that have a complete backup to drill
 * and no drill under way (started within the hour and not finished), with their server's drills under way.
 */
const DUE_DRILLS = `
  WITH due AS (
    SELECT t.id AS tenant_id, d.server_id, slot.at AS slot
      FROM tenants t
      JOIN backup_schedules s ON s.tier = t.tier AND s.drill_every_seconds IS NOT NULL
      JOIN databases d ON d.id = t.database_id
      CROSS JOIN LATERAL (SELECT ${SLOT_OFFSET_SQL.replace(':id', 't.id').replace(':every', 's.drill_every_seconds')} AS offset_s) o
      CROSS JOIN LATERAL (SELECT to_timestamp(
          floor((extract(epoch FROM now()) - o.offset_s) / s.drill_every_seconds) * s.drill_every_seconds
          + o.offset_s) AS at) slot
      LEFT JOIN backup_schedule_runs r ON r.tenant_id = t.id AND r.kind = 'drill'
     WHERE t.status = 'active'
       AND (r.last_started_at < slot.at
            OR (r.last_started_at IS NULL AND slot.at >= greatest(s.updated_at, t.created_at)))
       AND EXISTS (SELECT 1 FROM backups b WHERE b.tenant_id = t.id AND b.state = 'complete')
       AND NOT EXISTS (SELECT 1 FROM backup_drills x WHERE x.tenant_id = t.id AND x.finished_at IS NULL
                          AND x.started_at > now() - interval '1 hour')),
  running AS (
    SELECT d.server_id, count(*)::int AS n
      FROM backup_drills x JOIN tenants t ON t.id = x.tenant_id JOIN databases d ON d.id = t.database_id
     WHERE x.finished_at IS NULL AND x.started_at > now() - interval '1 hour'
     GROUP BY d.server_id)
  SELECT due.tenant_id, due.server_id, sv.max_connections, coalesce(running.n, 0) AS running
    FROM due JOIN servers sv ON sv.id = due.server_id LEFT JOIN running ON running.server_id = due.server_id
   ORDER BY due.slot, due.tenant_id
   LIMIT ${DRILL_BATCH * 5}`;

/**
 * The scheduled restore drills of one tick (run by runScheduleTick, under its lock): each due tenant's
 * drill slot is claimed in `backup_schedule_runs` and a drill of its newest complete backup queued through
 * `requestDrill`, as `tenantctl backups drill` does. Per server no more are queued than its drill slots
 * (drillSlotsFor) leave free beside the drills under way; a drill queued but not yet started waits for a
 * slot of its own (withDrillSlot), so the budget holds either way.
 */
export async function queueScheduledDrills(
  trx: Knex.Transaction,
  deps: { backups: BackupServices; jobs: JobQueue },
  actor: Actor,
): Promise<string[]> {
  const { rows } = await trx.raw(DUE_DRILLS);
  const room = new Map<string, number>();
  const picked: string[] = [];
  for (const row of rows as Array<{
    tenant_id: string;
    server_id: string;
    max_connections: number;
    running: number;
  }>) {
    const left = room.get(row.server_id) ?? drillSlotsFor(row.max_connections) - row.running;
    if (left <= 0 || picked.length >= DRILL_BATCH) continue;
    room.set(row.server_id, left - 1);
    picked.push(row.tenant_id);
  }
  if (picked.length === 0) return [];
  await trx('backup_schedule_runs')
    .insert(picked.map((tenantId) => ({ tenant_id: tenantId, kind: 'drill', last_started_at: trx.fn.now() })))
    .onConflict(['tenant_id', 'kind'])
    .merge(['last_started_at']);
  const queued: string[] = [];
  for (const tenantId of picked) {
    try {
      await requestDrill(deps, tenantId, { actor });
      queued.push(tenantId);
    } catch (error) {
      deps.backups.deps.logger.warn({ err: error, tenant: tenantId }, 'scheduled drill not queued');
    }
  }
  return queued;
}
