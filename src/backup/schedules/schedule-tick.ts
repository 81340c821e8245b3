import type { Knex } from 'knex';
import { MIGRATION_BUDGET_SHARE } from '../../catalog/connection-budget.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { BACKUP_QUEUE, type BackupServices } from '../backup-jobs.js';
import { requestBackup } from '../backup-operations.js';
import { outcomeOf } from '../backup-requests.js';
import { queueScheduledDrills } from './drill-tick.js';
import { SLOT_OFFSET_SQL } from './slot-offset.js';

/** The queue of the scheduler's tick: one job every SCHEDULE_TICK_MS, run by whichever worker takes it. */
export const BACKUP_SCHEDULE_QUEUE = 'backup-schedule';

/** How often the scheduler looks for tenants whose slot is due. */
export const SCHEDULE_TICK_MS = 2000;

/** Tenants started per tick at most; the rest are due still and start on the next ticks. */
const TICK_BATCH = 200;

/**
 * Scheduled backups running at once on one server take at most half of its budget outside the routers'
 * share (MIGRATION_BUDGET_SHARE, which fleet migrations and moves use too), one connection each, and at
 * least one. Manual backups running there count too.
 */
export const SCHEDULED_BACKUP_SHARE = MIGRATION_BUDGET_SHARE / 2;

/** One tick at a time across every process: two ticks would each see the other's backups not yet started. */
const TICK_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('tenantplane.backup-schedule')) AS locked";

/** What the tick's job carries: inline, the instance whose process runs the backups it starts. */
export interface TickData {
  runner?: string;
}

export interface TickResult {
  /** False when another tick held the lock: this one did nothing. */
  ran: boolean;
  /** Tenants whose scheduled backup this tick requested. */
  started: string[];
  /** Scheduled backups whose job was lost (see recoverLostRequests) and is queued again. */
  requeued: string[];
  /** Tenants whose scheduled restore drill this tick queued (see queueScheduledDrills). */
  drills: string[];
}

/** The actor of scheduled backups: `scheduler`, or `scheduler@<instance>` for the process that runs them. */
export function schedulerActor(runner?: string) {
  return { actor: runner === undefined ? 'scheduler' : `scheduler@${runner}` };
}

export { SLOT_OFFSET_SQL };

/**
 * A tenant's slots: every `every_seconds`, shifted by a hash of its id within the period, so a tier's
 * tenants start spread over the period instead of all at once. `slot` is the latest slot start ≤ now.
 * A tenant is due when nothing was started for it since that slot began; one never backed up by the
 * schedule has its first slot after the schedule was set (or the tenant created). A slot missed while no
 * tick ran (every worker down) is one slot: it runs once when the ticks come back, not once per period.
 */
const DUE_TENANTS = `
  SELECT t.id AS tenant_id, d.server_id, slot.at AS slot, extract(epoch FROM slot.at)::bigint AS slot_epoch
    FROM tenants t
    JOIN backup_schedules s ON s.tier = t.tier
    JOIN databases d ON d.id = t.database_id
    CROSS JOIN LATERAL (SELECT ${SLOT_OFFSET_SQL.replace(':id', 't.id').replace(':every', 's.every_seconds')} AS offset_s) o
    CROSS JOIN LATERAL (SELECT to_timestamp(
        floor((extract(epoch FROM now()) - o.offset_s) / s.every_seconds) * s.every_seconds + o.offset_s
      ) AS at) slot
    LEFT JOIN backup_schedule_runs r ON r.tenant_id = t.id AND r.kind = 'backup'
   WHERE t.status = 'active'
     AND (r.last_started_at < slot.at
          OR (r.last_started_at IS NULL AND slot.at >= greatest(s.updated_at, t.created_at)))
     AND NOT EXISTS (SELECT 1 FROM backup_requests q
                      WHERE q.tenant_id = t.id AND q.kind = 'backup' AND q.active)`;

/** Due tenants within each server's room for scheduled backups, the longest due first. */
const PICK_DUE = `
  WITH due AS (${DUE_TENANTS}),
  running AS (
    SELECT d.server_id, count(*) AS n
      FROM backup_requests q JOIN tenants t ON t.id = q.tenant_id JOIN databases d ON d.id = t.database_id
     WHERE q.kind = 'backup' AND q.active
     GROUP BY d.server_id)
  SELECT ranked.tenant_id, ranked.slot_epoch FROM (
    SELECT due.*, row_number() OVER (PARTITION BY due.server_id ORDER BY due.slot, due.tenant_id) AS n
      FROM due) ranked
    JOIN servers sv ON sv.id = ranked.server_id
    LEFT JOIN running ON running.server_id = ranked.server_id
   WHERE ranked.n + coalesce(running.n, 0) <= greatest(1, floor(sv.max_connections * CAST(:share AS float8)))
   ORDER BY ranked.slot, ranked.tenant_id
   LIMIT :batch`;

/**
 * One tick of the backup schedules, under a lock only one tick holds at a time (a tick that finds it taken
 * does nothing): scheduled backups whose job was lost are queued again, then each due tenant's slot is
 * claimed in `backup_schedule_runs` and its backup requested through the same path as a manual one, with
 * the slot as idempotency key. So a tenant never has two backups at once (one active request per tenant),
 * and a tick that dies after requesting but before its claims commit is answered, on the next tick, by the
 * same requests rather than new backups.
 */
export async function runScheduleTick(
  deps: { backups: BackupServices; jobs: JobQueue },
  data: TickData = {},
): Promise<TickResult> {
  const { knex } = deps.backups.deps.catalog;
  const actor = schedulerActor(deps.jobs.distributed ? undefined : data.runner);
  return knex.transaction(async (trx) => {
    const { rows } = await trx.raw(TICK_LOCK);
    if (!rows[0].locked) return { ran: false, started: [], requeued: [], drills: [] };
    const requeued = await recoverLostRequests(trx, deps, data.runner);
    const { rows: due } = await trx.raw(PICK_DUE, { share: SCHEDULED_BACKUP_SHARE, batch: TICK_BATCH });
    const picked = due as Array<{ tenant_id: string; slot_epoch: string }>;
    if (picked.length > 0) {
      await trx('backup_schedule_runs')
        .insert(
          picked.map((row) => ({ tenant_id: row.tenant_id, kind: 'backup', last_started_at: trx.fn.now() })),
        )
        .onConflict(['tenant_id', 'kind'])
        .merge(['last_started_at']);
    }
    const started: string[] = [];
    for (const row of picked) {
      try {
        await requestBackup(deps.backups, row.tenant_id, {
          compress: true,
          actor,
          idempotencyKey: `schedule-${row.slot_epoch}`,
        });
        started.push(row.tenant_id);
      } catch (error) {
        // A tenant that changed meanwhile (moving, deleted): its slot is over; the next one tries again.
        deps.backups.deps.logger.warn(
          { err: error, tenant: row.tenant_id },
          'scheduled backup not requested',
        );
      }
    }
    const drills = await queueScheduledDrills(trx, deps, actor);
    return { ran: true, started, requeued, drills };
  });
}

/**
 * Scheduled backup requests still active whose job is lost: finished by the queue without the request being
 * marked (their outcome is recorded now), or unknown to the queue: with BullMQ, a crash between recording
 * the request and queuing it; inline, a process that died with its jobs, which is known by its lapsed
 * instance lease. Those are queued again here (inline: taken over by this process, recorded as their
 * runner first so no other live process takes them too), and the backup job finishes or redoes the
 * pending backup under the same id.
 */
async function recoverLostRequests(
  trx: Knex.Transaction,
  deps: { backups: BackupServices; jobs: JobQueue },
  runner: string | undefined,
): Promise<string[]> {
  const active = await trx('backup_requests')
    .where({ kind: 'backup', active: true })
    .whereRaw("(actor::jsonb)->>'actor' LIKE 'scheduler%'")
    .select('id', 'tenant_id', 'job_id', 'params', 'idempotency_key', 'actor');
  const requeued: string[] = [];
  for (const row of active) {
    const job = await deps.jobs.get(BACKUP_QUEUE, row.job_id);
    const outcome = job && outcomeOf(job);
    if (outcome) {
      await deps.backups.requests.finish(row.id, outcome);
      continue;
    }
    if (job) continue;
    if (!deps.jobs.distributed) {
      const previous = (JSON.parse(row.actor) as { actor: string }).actor.split('@')[1];
      if (runner === undefined || previous === runner || (await leaseIsLive(trx, previous))) continue;
      await trx('backup_requests')
        .where({ id: row.id })
        .update({ actor: JSON.stringify(schedulerActor(runner)) });
    }
    await deps.backups.requests.submit({
      kind: 'backup',
      queue: BACKUP_QUEUE,
      tenantId: row.tenant_id,
      params: row.params,
      actor: schedulerActor(deps.jobs.distributed ? undefined : runner),
      idempotencyKey: row.idempotency_key ?? undefined,
    });
    requeued.push(row.tenant_id);
  }
  return requeued;
}

async function leaseIsLive(trx: Knex.Transaction, instanceId: string | undefined): Promise<boolean> {
  if (instanceId === undefined || !/^[0-9a-f-]{36}$/.test(instanceId)) return false;
  const row = await trx('instances')
    .where({ id: instanceId })
    .whereRaw("heartbeat_at + lease_ms * interval '1 millisecond' > now()")
    .first('id');
  return row !== undefined;
}
