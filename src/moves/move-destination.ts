import type { Catalog } from '../catalog/catalog.js';
import {
  type DatabaseRecord,
  dedicatedDatabaseId,
  type TenantRecord,
  type TierRecord,
} from '../catalog/records.js';
import { ConflictError, InvalidInputError } from '../errors/index.js';
import { assertSlug, dedicatedDatabaseName } from '../ids.js';
import type { PlacementPolicy } from '../placement/placement-policy.js';
import { databaseTenant } from '../tenant-session/tenant-binding.js';

/**
 * Where a move takes a tenant:
 * - `tier`: the tenant's tier changes, and its placement follows the tier's (`set-tier`);
 * - `shard`: to that shard, the tier unchanged;
 * - `dedicated`: to a database of its own, on `server` or on the one placement picks, the tier unchanged.
 */
export type MoveDestination = { tier: string } | { shard: string } | { dedicated: { server?: string } };

/** A dedicated database a move builds before copying into it. */
export interface DedicatedBuild {
  id: string;
  serverId: string;
  databaseName: string;
}

/** What a move will do, decided before anything is touched. */
export type MovePlan =
  /** Nothing to move: the tenant is there already. */
  | { kind: 'none'; toTier: TierRecord }
  /** The tier changes within the same kind of placement: a catalog change. */
  | { kind: 'tier-only'; toTier: TierRecord }
  | { kind: 'copy'; toTier: TierRecord; toDatabaseId: string; build?: DedicatedBuild };

/**
 * The tenant's dedicated database ids and names carry a generation, so that a move to another server builds
 * its target beside the database it copies from: `tenant:<id>` then `tenant:<id>:2`, `tenant:<id>:3`…, named
 * `<prefix>_t_<id>` then `<prefix>_t_<id>_2`…
 */
export function nextDedicatedDatabase(
  prefix: string,
  tenantId: string,
  current: DatabaseRecord | undefined,
): Omit<DedicatedBuild, 'serverId'> {
  const generation = current?.kind === 'dedicated' ? dedicatedGeneration(current.id) + 1 : 1;
  const name = dedicatedDatabaseName(prefix, tenantId);
  return generation === 1
    ? { id: dedicatedDatabaseId(tenantId), databaseName: name }
    : { id: `${dedicatedDatabaseId(tenantId)}:${generation}`, databaseName: `${name}_${generation}` };
}

function dedicatedGeneration(databaseId: string): number {
  const suffix = /:(\d+)$/.exec(databaseId.slice('tenant:'.length));
  return suffix ? Number(suffix[1]) : 1;
}

/** Checks a destination given by a user: a shard id, or `dedicated` with an optional server. */
export function parseMoveDestination(to: unknown, server: unknown): MoveDestination {
  if (to === 'dedicated') {
    if (server === undefined || server === null) return { dedicated: {} };
    return { dedicated: { server: assertSlug(server, 'server id') } };
  }
  if (server !== undefined && server !== null) {
    throw new InvalidInputError('`server` goes with `to: "dedicated"` only', 'invalid_field');
  }
  if (typeof to !== 'string') {
    throw new InvalidInputError('`to` must be a shard id or "dedicated"', 'invalid_field');
  }
  return { shard: assertSlug(to, 'shard id') };
}

export interface MovePlanner {
  catalog: Catalog;
  placement: PlacementPolicy;
  databasePrefix: string;
}

/**
 * Decides where the tenant goes, refusing what placement forbids: an unknown tier, shard or server (400),
 * a region the tenant is not pinned to (400 `region_mismatch`), a draining server (409).
 */
export async function planMove(
  deps: MovePlanner,
  tenant: TenantRecord,
  destination: MoveDestination,
): Promise<MovePlan> {
  const { catalog, placement } = deps;
  const current = tenant.databaseId ? await catalog.getDatabase(tenant.databaseId) : undefined;
  const currentTier = await catalog.getTier(tenant.tier);
  if (!currentTier) throw new Error(`tenant ${tenant.id} has a tier the catalog lacks`);
  if (!current) {
    throw new ConflictError(`tenant ${tenant.id} has no placement to move from`, 'invalid_status_change');
  }
  if ('tier' in destination) {
    const toTier = await catalog.getTier(destination.tier);
    if (!toTier)
      throw new InvalidInputError(`unknown tier ${JSON.stringify(destination.tier)}`, 'unknown_tier');
    if (toTier.id === tenant.tier) return { kind: 'none', toTier };
    if (toTier.placement === current.kind) return { kind: 'tier-only', toTier };
    if (toTier.placement === 'shard') {
      return { kind: 'copy', toTier, toDatabaseId: await placement.shardFor(tenant) };
    }
    return dedicatedPlan(deps, tenant, toTier, current, await placement.serverFor(tenant));
  }
  if ('shard' in destination) {
    const shard = await catalog.getDatabase(destination.shard);
    if (shard?.kind !== 'shard') {
      throw new InvalidInputError(`unknown shard ${JSON.stringify(destination.shard)}`, 'unknown_target');
    }
    if (shard.id === current.id) return { kind: 'none', toTier: currentTier };
    if (shard.status !== 'ready')
      throw new ConflictError(`shard ${shard.id} is not ready`, 'database_not_ready');
    await placement.assertAllowed(tenant, shard);
    return { kind: 'copy', toTier: currentTier, toDatabaseId: shard.id };
  }
  const serverId =
    destination.dedicated.server ??
    (await placement.serverFor(
      tenant,
      current.kind === 'dedicated' ? { excludeServerId: current.serverId } : {},
    ));
  if (!(await catalog.getServer(serverId))) {
    throw new InvalidInputError(`unknown server ${JSON.stringify(serverId)}`, 'unknown_target');
  }
  if (current.kind === 'dedicated' && current.serverId === serverId)
    return { kind: 'none', toTier: currentTier };
  return dedicatedPlan(deps, tenant, currentTier, current, serverId);
}

async function dedicatedPlan(
  deps: MovePlanner,
  tenant: TenantRecord,
  toTier: TierRecord,
  current: DatabaseRecord,
  serverId: string,
): Promise<MovePlan> {
  const next = nextDedicatedDatabase(deps.databasePrefix, tenant.id, current);
  const build: DedicatedBuild = { ...next, serverId };
  await deps.placement.assertAllowed(tenant, {
    id: build.id,
    kind: 'dedicated',
    serverId,
    databaseName: build.databaseName,
    status: 'creating',
  } as DatabaseRecord);
  return { kind: 'copy', toTier, toDatabaseId: build.id, build };
}

/** Whether a database is one of the tenant's own (any generation). */
export function isOwnDatabase(database: Pick<DatabaseRecord, 'id' | 'kind'>, tenantId: string): boolean {
  return databaseTenant(database) === tenantId;
}
