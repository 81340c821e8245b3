import type { Actor, Catalog } from '../catalog/catalog.js';
import type { TenantRecord } from '../catalog/records.js';
import { InvalidInputError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { Logger } from '../logging/logger.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import type { MoveLedger } from './move-ledger.js';
import { type MoveProgress, TenantMover } from './tenant-mover.js';

/** Tier moves that change placement, one job per move. */
export const TENANT_MOVE_QUEUE = 'tenant-move';

interface MoveJobData {
  tenantId: string;
  tier: string;
  actor: Actor;
}

/** Where a tenant mover's databases are, and the tenant migrations it builds them with. */
export interface TenantMoverSource {
  catalog: Catalog;
  logger: Logger;
  config: { databasePrefix: string };
  tenantMigrationsDir: string;
  controlDatabaseUrl: string;
}

export function createTenantMover(source: TenantMoverSource): TenantMover {
  return new TenantMover({
    catalog: source.catalog,
    logger: source.logger,
    databasePrefix: source.config.databasePrefix,
    tenantMigrationsDir: source.tenantMigrationsDir,
    controlDatabaseUrl: source.controlDatabaseUrl,
  });
}

export function moveJobHandlers(deps: { mover: Pick<TenantMover, 'move'> }): Record<string, JobHandler> {
  const moveJob = async (data: MoveJobData, context: Parameters<JobHandler>[1]) =>
    deps.mover.move(data.tenantId, data.tier, data.actor, (progress: MoveProgress) =>
      context.progress({ ...progress }),
    );
  return { [TENANT_MOVE_QUEUE]: moveJob as JobHandler };
}

/** A tier change done on the spot (same placement), or a move queued as a job. */
export type TierChange = { tenant: TenantRecord; jobId?: undefined } | { jobId: string; tenant?: undefined };

/** What a tier change reads, changes and queues. */
export interface TierChangeDeps {
  catalog: Catalog;
  tenants: Pick<TenantProvisioner, 'setTier'>;
  jobs: Pick<JobQueue, 'enqueue'>;
  moves: Pick<MoveLedger, 'endedMoves'>;
}

/**
 * `set-tier`: between tiers of the same placement a catalog change; across placements a move job. The job
 * id names the tenant, the target tier and how many moves of the tenant have ended, so the same request
 * twice while a move runs is one job, and a request after a move ended (or failed) starts a new one.
 */
export async function changeTier(
  deps: TierChangeDeps,
  tenantId: string,
  tierId: string,
  actor: Actor,
): Promise<TierChange> {
  assertSlug(tenantId);
  const tenant = await deps.catalog.requireTenant(tenantId);
  const [from, to] = await Promise.all([deps.catalog.getTier(tenant.tier), deps.catalog.getTier(tierId)]);
  if (!to) throw new InvalidInputError(`unknown tier ${JSON.stringify(tierId)}`, 'unknown_tier');
  if (from?.placement === to.placement) return { tenant: await deps.tenants.setTier(tenantId, to.id, actor) };
  const ended = await deps.moves.endedMoves(tenantId);
  const jobId = `tenant-move.${tenantId}.${to.id}.${ended + 1}`;
  const data: MoveJobData = { tenantId, tier: to.id, actor };
  // One retry: a move that failed has been rolled back, so trying again is safe.
  await deps.jobs.enqueue(TENANT_MOVE_QUEUE, data, { jobId, attempts: 2, backoffMs: 2000 });
  await deps.catalog.audit(actor, 'tenant.move_requested', tenantId, {
    from: tenant.tier,
    to: to.id,
    job_id: jobId,
  });
  return { jobId };
}
