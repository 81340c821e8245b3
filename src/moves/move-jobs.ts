import type { Actor } from '../catalog/catalog.js';
import type { TenantRecord } from '../catalog/records.js';
import { InvalidInputError } from '../errors.js';
import { assertSlug } from '../ids.js';
import type { JobHandler } from '../jobs/job-queue.js';
import type { Tenantplane } from '../tenantplane.js';
import { MoveLedger } from './move-ledger.js';
import { type MoveProgress, TenantMover } from './tenant-mover.js';

/** Tier moves that change placement, one job per move. */
export const TENANT_MOVE_QUEUE = 'tenant-move';

interface MoveJobData {
  tenantId: string;
  tier: string;
  actor: Actor;
}

export function createTenantMover(tp: Tenantplane): TenantMover {
  return new TenantMover({
    catalog: tp.catalog,
    logger: tp.logger,
    databasePrefix: tp.config.databasePrefix,
    tenantMigrationsDir: tp.tenantMigrationsDir,
    controlDatabaseUrl: tp.controlDatabaseUrl,
  });
}

export function moveJobHandlers(tp: Tenantplane): Record<string, JobHandler> {
  const moveJob = async (data: MoveJobData, context: Parameters<JobHandler>[1]) =>
    createTenantMover(tp).move(data.tenantId, data.tier, data.actor, (progress: MoveProgress) =>
      context.progress({ ...progress }),
    );
  return { [TENANT_MOVE_QUEUE]: moveJob as JobHandler };
}

/** A tier change done on the spot (same placement), or a move queued as a job. */
export type TierChange = { tenant: TenantRecord; jobId?: undefined } | { jobId: string; tenant?: undefined };

/**
 * `set-tier`: between tiers of the same placement a catalog change; across placements a move job. The job
 * id names the tenant, the target tier and how many moves of the tenant have ended, so the same request
 * twice while a move runs is one job, and a request after a move ended (or failed) starts a new one.
 */
export async function changeTier(
  tp: Tenantplane,
  tenantId: string,
  tierId: string,
  actor: Actor,
): Promise<TierChange> {
  assertSlug(tenantId);
  const tenant = await tp.catalog.requireTenant(tenantId);
  const [from, to] = await Promise.all([tp.catalog.getTier(tenant.tier), tp.catalog.getTier(tierId)]);
  if (!to) throw new InvalidInputError(`unknown tier ${JSON.stringify(tierId)}`, 'unknown_tier');
  if (from?.placement === to.placement) return { tenant: await tp.tenants.setTier(tenantId, to.id, actor) };
  const ended = await new MoveLedger(tp.catalog.knex).endedMoves(tenantId);
  const jobId = `tenant-move.${tenantId}.${to.id}.${ended + 1}`;
  const data: MoveJobData = { tenantId, tier: to.id, actor };
  // One retry: a move that failed has been rolled back, so trying again is safe.
  await tp.jobs.enqueue(TENANT_MOVE_QUEUE, data, { jobId, attempts: 2, backoffMs: 2000 });
  await tp.catalog.audit(actor, 'tenant.move_requested', tenantId, {
    from: tenant.tier,
    to: to.id,
    job_id: jobId,
  });
  return { jobId };
}
