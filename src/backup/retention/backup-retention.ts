import type { Knex } from 'knex';
import type { Actor } from '../../catalog/catalog.js';
import type { Logger } from '../../logging/logger.js';
import type { ObjectStore } from '../object-store.js';

/** Why a backup goes: past the newest `keep_count`, older than `keep_days`, or a prune that crashed. */
export type PruneReason = 'count' | 'age' | 'unfinished';

export interface PruneCandidate {
  tenantId: string;
  backupId: string;
  objectKey: string;
  createdAt: Date;
  reason: PruneReason;
}

export interface PruneResult {
  dryRun: boolean;
  /** Deleted (or, in a dry run, what would be). */
  pruned: PruneCandidate[];
  /** Found expired but not deleted this time: the store or the catalog failed; the next prune retries. */
  failed: Array<PruneCandidate & { error: string }>;
}

export interface RetentionDeps {
  knex: Knex;
  store: ObjectStore;
  logger: Logger;
}

export const PRUNE_ACTOR: Actor = { actor: 'retention' };

/**
 * The backups retention removes, per tenant of a tier with a schedule: complete backups ranked by age
 * (newest first, by when they were taken) beyond the schedule's `keep_count`, or taken more than
 * `keep_days` ago. Never the newest complete backup (rank 1), never one under a legal hold (a held backup
 * still counts among the kept ones). Rows left `deleting` by a prune that crashed come too, whatever the
 * tenant's tier, to be finished. `tenantId` limits it to one tenant.
 */
export async function expiredBackups(knex: Knex, tenantId?: string): Promise<PruneCandidate[]> {
  const forTenant = tenantId === undefined ? '' : 'AND b.tenant_id = :tenantId';
  const { rows } = await knex.raw(
    `SELECT tenant_id, id, object_key, created_at, reason FROM (
       SELECT b.tenant_id, b.id, b.object_key, b.created_at, b.held,
              CASE WHEN rank > s.keep_count THEN 'count'
                   WHEN s.keep_days IS NOT NULL AND b.created_at < now() - make_interval(days => s.keep_days)
                     THEN 'age' END AS reason,
              rank
         FROM (SELECT b.*, row_number() OVER (PARTITION BY b.tenant_id ORDER BY b.created_at DESC, b.id DESC)
                 AS rank
                 FROM backups b WHERE b.state = 'complete' ${forTenant}) b
         JOIN tenants t ON t.id = b.tenant_id
         JOIN backup_schedules s ON s.tier = t.tier
     ) ranked
     WHERE reason IS NOT NULL AND rank > 1 AND NOT held
     UNION ALL
     SELECT b.tenant_id, b.id, b.object_key, b.created_at, 'unfinished' FROM backups b
      WHERE b.state = 'deleting' ${forTenant}
     ORDER BY tenant_id, created_at`,
    tenantId === undefined ? {} : { tenantId },
  );
  return (rows as Array<Record<string, unknown>>).map((row) => ({
    tenantId: row.tenant_id as string,
    backupId: row.id as string,
    objectKey: row.object_key as string,
    createdAt: row.created_at as Date,
    reason: row.reason as PruneReason,
  }));
}

/**
 * Applies retention now. Each backup goes in three steps, so that a crash at any point leaves a state the
 * next prune finishes: the row is marked `deleting` (only if it is still complete and not held: a hold set
 * meanwhile wins; from then on nothing restores from it), the stored object is deleted (no error if it is
 * gone already), and the row is deleted last, audited `tenant.backup.prune`. A dry run only answers what
 * would go.
 */
export async function pruneBackups(
  deps: RetentionDeps,
  options: { dryRun?: boolean; tenantId?: string; actor?: Actor } = {},
): Promise<PruneResult> {
  const candidates = await expiredBackups(deps.knex, options.tenantId);
  const result: PruneResult = { dryRun: Boolean(options.dryRun), pruned: [], failed: [] };
  if (options.dryRun) return { ...result, pruned: candidates };
  for (const candidate of candidates) {
    try {
      if (await pruneOne(deps, candidate, options.actor ?? PRUNE_ACTOR)) result.pruned.push(candidate);
    } catch (error) {
      deps.logger.warn({ err: error, backup: candidate.backupId }, 'prune: backup not deleted, will retry');
      result.failed.push({ ...candidate, error: (error as Error).message });
    }
  }
  return result;
}

async function pruneOne(deps: RetentionDeps, candidate: PruneCandidate, actor: Actor): Promise<boolean> {
  const { knex } = deps;
  if (candidate.reason !== 'unfinished') {
    const marked = await knex('backups')
      .where({ id: candidate.backupId, state: 'complete', held: false })
      .update({ state: 'deleting' });
    if (marked === 0) return false;
  }
  await deps.store.delete(candidate.objectKey);
  const removed = await knex('backups').where({ id: candidate.backupId, state: 'deleting' }).delete();
  if (removed === 0) return false;
  await knex('audit_log').insert({
    actor: actor.actor,
    action: 'tenant.backup.prune',
    tenant_id: candidate.tenantId,
    request_id: actor.requestId ?? null,
    details: JSON.stringify({
      backupId: candidate.backupId,
      reason: candidate.reason,
      createdAt: candidate.createdAt,
    }),
  });
  return true;
}
