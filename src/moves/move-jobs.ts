import type { Actor, Catalog } from '../catalog/catalog.js';
import type { TenantRecord } from '../catalog/records.js';
import { InvalidInputError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { Logger } from '../logging/logger.js';
import type { PlacementPolicy } from '../placement/placement-policy.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import { type MoveDestination, planMove } from './move-destination.js';
import type { MoveLedger } from './move-ledger.js';
import { type MoveProgress, TenantMover } from './tenant-mover.js';

/** Tier moves that change placement, one job per move. */
export const TENANT_MOVE_QUEUE = 'tenant-move';

interface MoveJobData {
  tenantId: string;
  destination: MoveDestination;
  actor: Actor;
}

/** A move job queued before moves took destinations carries the target tier only. */
type QueuedMoveJobData = MoveJobData | { tenantId: string; tier: string; actor: Actor };

/** Where a tenant mover's databases are, and the tenant migrations it builds them with. */
export interface TenantMoverSource {
  catalog: Catalog;
  logger: Logger;
  config: { databasePrefix: string; moveCutover: 'capture' | 'compare' };
  tenantMigrationsDir: string;
  controlDatabaseUrl: string;
  placement: PlacementPolicy;
}

export function createTenantMover(source: TenantMoverSource): TenantMover {
  return new TenantMover({
    catalog: source.catalog,
    logger: source.logger,
    databasePrefix: source.config.databasePrefix,
    cutover: source.config.moveCutover,
    tenantMigrationsDir: source.tenantMigrationsDir,
    controlDatabaseUrl: source.controlDatabaseUrl,
    placement: source.placement,
  });
}

export function moveJobHandlers(deps: { mover: Pick<TenantMover, 'move'> }): Record<string, JobHandler> {
  const moveJob = async (data: QueuedMoveJobData, context: Parameters<JobHandler>[1]) =>
    deps.mover.move(
      data.tenantId,
      'destination' in data ? data.destination : { tier: data.tier },
      data.actor,
      (progress: MoveProgress) => context.progress({ ...progress }),
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

/** `set-tier`: between tiers of the same placement a catalog change; across placements a move job. */
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
  const jobId = await enqueueMove(deps, tenantId, { tier: to.id }, actor);
  await deps.catalog.audit(actor, 'tenant.move_requested', tenantId, {
    from: tenant.tier,
    to: to.id,
    job_id: jobId,
  });
  return { jobId };
}

/**
 * `tenants move`: queues a move to a shard or a dedicated database (the destination checked first, so a
 * bad one is a 400 now rather than a failed job). Returns the job id.
 */
export async function requestMove(
  deps: Omit<TierChangeDeps, 'tenants'> & { placement: PlacementPolicy; databasePrefix: string },
  tenantId: string,
  destination: MoveDestination,
  actor: Actor,
): Promise<string> {
  assertSlug(tenantId);
  const tenant = await deps.catalog.requireTenant(tenantId);
  await planMove(deps, tenant, destination);
  const jobId = await enqueueMove(deps, tenantId, destination, actor);
  await deps.catalog.audit(actor, 'tenant.move_requested', tenantId, { ...destination, job_id: jobId });
  return jobId;
}

/**
 * The job id names the tenant, the destination and how many moves of the tenant have ended, so the same
 * request twice while a move runs is one job, and a request after a move ended (or failed) starts a new one.
 */
async function enqueueMove(
  deps: Pick<TierChangeDeps, 'jobs' | 'moves'>,
  tenantId: string,
  destination: MoveDestination,
  actor: Actor,
): Promise<string> {
  const ended = await deps.moves.endedMoves(tenantId);
  const jobId = `tenant-move.${tenantId}.${destinationKey(destination)}.${ended + 1}`;
  const data: MoveJobData = { tenantId, destination, actor };
  // One retry: a move that failed has been rolled back, so trying again is safe.
  await deps.jobs.enqueue(TENANT_MOVE_QUEUE, data, { jobId, attempts: 2, backoffMs: 2000 });
  return jobId;
}

function destinationKey(destination: MoveDestination): string {
  if ('tier' in destination) return destination.tier;
  if ('shard' in destination) return `shard-${destination.shard}`;
  return destination.dedicated.server ? `dedicated-${destination.dedicated.server}` : 'dedicated';
}
