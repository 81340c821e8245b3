import type { Actor, Catalog } from '../catalog/catalog.js';
import { placedTenants } from '../catalog/tenant-placements.js';
import { recordTenantSizes, type TenantSize } from '../catalog/tenant-sizes.js';
import type { Logger } from '../logging/logger.js';
import type { TenantMover } from '../moves/tenant-mover.js';
import { defaultMinGainBytes, type PlannedMove, planRebalance, type ShardLoad } from './rebalance-plan.js';
import { measureTenantBytes } from './tenant-bytes.js';

export interface RebalanceDeps {
  catalog: Catalog;
  mover: Pick<TenantMover, 'move'>;
  logger: Logger;
}

export interface RebalanceRequest {
  /** Most moves; default 10. */
  maxMoves?: number;
  /** The least gain a move must bring, in bytes; default defaultMinGainBytes. */
  minGainBytes?: number;
}

export interface RebalanceProgress {
  phase: 'measuring' | 'moving' | 'done';
  planned?: number;
  done?: number;
  tenant_id?: string;
}

export interface RebalanceResult {
  moves: Array<PlannedMove & { moved: boolean; pause_ms?: number; error?: string }>;
  min_gain_bytes: number;
}

export const DEFAULT_MAX_MOVES = 10;
/** The audit action of a rebalance that ran to its end (its moves may have failed). */
export const REBALANCE_ENDED = 'shards.rebalance_finished';

/**
 * Every ready shard with the bytes of each tenant on it, measured in the database (see measureTenantBytes),
 * and recorded in the catalog (tenant_sizes) for placement to weigh shards by: a dry run records them too,
 * since measuring changes no placement.
 */
export async function measureShardLoads(catalog: Catalog): Promise<ShardLoad[]> {
  const [shards, servers, tenants] = await Promise.all([
    catalog.listDatabases('shard'),
    catalog.listServers(),
    placedTenants(catalog.knex, { kind: 'shard' }),
  ]);
  const serverById = new Map(servers.map((server) => [server.id, server]));
  const loads: ShardLoad[] = [];
  const measured: TenantSize[] = [];
  for (const shard of shards.filter((candidate) => candidate.status === 'ready')) {
    const server = serverById.get(shard.serverId);
    const onShard = tenants.filter((tenant) => tenant.databaseId === shard.id);
    const bytes = await measureTenantBytes(
      catalog,
      shard,
      onShard.map((tenant) => tenant.tenantId),
    );
    const tenantLoads = onShard.map((tenant) => ({
      id: tenant.tenantId,
      region: tenant.region,
      bytes: bytes.get(tenant.tenantId) ?? 0,
    }));
    loads.push({
      id: shard.id,
      region: server?.region ?? null,
      draining: server?.draining ?? true,
      tenants: tenantLoads,
    });
    measured.push(
      ...tenantLoads.map((tenant) => ({ tenantId: tenant.id, databaseId: shard.id, bytes: tenant.bytes })),
    );
  }
  await recordTenantSizes(catalog.knex, measured);
  return loads;
}

/**
 * The moved tenant's measured bytes, recorded for where it now is: they are the same on any shard, and
 * without them placement would weigh the tenant on neither shard until the next measurement. Only a hint
 * for placement, so failing to record it fails nothing.
 */
async function recordMovedSize(deps: RebalanceDeps, planned: PlannedMove): Promise<void> {
  try {
    await recordTenantSizes(deps.catalog.knex, [
      { tenantId: planned.tenant_id, databaseId: planned.to, bytes: planned.bytes },
    ]);
  } catch (error) {
    deps.logger.warn({ tenant: planned.tenant_id, err: error }, "could not record a moved tenant's bytes");
  }
}

/** The rebalance plan for the shards as they are now, changing no placement (it records the sizes measured). */
export async function planShardRebalance(
  catalog: Catalog,
  request: RebalanceRequest,
): Promise<{ moves: PlannedMove[]; min_gain_bytes: number }> {
  const loads = await measureShardLoads(catalog);
  const minGainBytes = request.minGainBytes ?? defaultMinGainBytes(loads);
  const moves = planRebalance(loads, { maxMoves: request.maxMoves ?? DEFAULT_MAX_MOVES, minGainBytes });
  return { moves, min_gain_bytes: minGainBytes };
}

/**
 * Plans as planShardRebalance does, then makes the moves one after another. A move that fails is rolled
 * back by the mover and reported; the others still run. Running it again plans afresh from where the
 * tenants are, so an interrupted rebalance resumes by being asked again.
 */
export async function rebalanceShards(
  deps: RebalanceDeps,
  request: RebalanceRequest,
  actor: Actor,
  onProgress: (progress: RebalanceProgress) => Promise<void> | void = () => {},
): Promise<RebalanceResult> {
  await onProgress({ phase: 'measuring' });
  const plan = await planShardRebalance(deps.catalog, request);
  await deps.catalog.audit(actor, 'shards.rebalance', null, {
    planned: plan.moves,
    min_gain_bytes: plan.min_gain_bytes,
  });
  const results: RebalanceResult['moves'] = [];
  for (const [index, planned] of plan.moves.entries()) {
    await onProgress({
      phase: 'moving',
      planned: plan.moves.length,
      done: index,
      tenant_id: planned.tenant_id,
    });
    try {
      const moved = await deps.mover.move(planned.tenant_id, { shard: planned.to }, actor);
      results.push({ ...planned, moved: moved.moved, pause_ms: moved.pause_ms });
      if (moved.moved) await recordMovedSize(deps, planned);
    } catch (error) {
      deps.logger.warn({ tenant: planned.tenant_id, err: error }, 'a rebalance move failed; going on');
      results.push({ ...planned, moved: false, error: (error as Error).message });
    }
  }
  const result = { moves: results, min_gain_bytes: plan.min_gain_bytes };
  await deps.catalog.audit(actor, REBALANCE_ENDED, null, result);
  await onProgress({ phase: 'done', planned: plan.moves.length, done: plan.moves.length });
  return result;
}
