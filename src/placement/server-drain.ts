import { setTimeout as sleep } from 'node:timers/promises';
import type { Actor, Catalog } from '../catalog/catalog.js';
import { MIGRATION_BUDGET_SHARE } from '../catalog/connection-budget.js';
import { type PlacedTenant, placedTenants } from '../catalog/tenant-placements.js';
import { ConflictError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import type { MoveDestination } from '../moves/move-destination.js';
import type { TenantMover } from '../moves/tenant-mover.js';
import type { PlacementPolicy } from './placement-policy.js';

export interface DrainDeps {
  catalog: Catalog;
  placement: PlacementPolicy;
  mover: Pick<TenantMover, 'move'>;
  logger: Logger;
}

/** Where a drain sends one tenant: a shard's tenant to another shard, a dedicated one to another server. */
export interface DrainStep {
  tenant_id: string;
  from: string;
  /** A shard id, or `dedicated`. */
  to: string;
  server?: string;
}

export interface DrainProgress {
  phase: 'planning' | 'moving' | 'done';
  total?: number;
  done?: number;
  failed?: number;
  moving?: string[];
}

export interface DrainResult {
  server_id: string;
  moved: number;
  failed: Array<{ tenant_id: string; error: string }>;
  /** Tenants still on the server (those that failed to move). */
  remaining: number;
}

/** The audit action of a drain that ran to its end (some moves may have failed). */
export const DRAIN_ENDED = 'server.drain_finished';
/** How many moves a drain runs at once by default. */
export const DEFAULT_DRAIN_CONCURRENCY = 2;
/**
 * Connections one move holds on the servers it joins (a snapshot on the source, a transaction on the
 * target, and short admin sessions): the budget left outside the routers' share limits the concurrency.
 */
const CONNECTIONS_PER_MOVE = 3;

/**
 * Where each tenant on the server would go now, with the server counted as draining (a pinned tenant only
 * within its region, an unpinned one anywhere). A tenant with nowhere to go is planned with the reason.
 */
export async function planDrain(
  deps: Pick<DrainDeps, 'catalog' | 'placement'>,
  serverId: string,
): Promise<{ steps: DrainStep[]; stuck: Array<{ tenant_id: string; error: string }> }> {
  await deps.catalog.requireServer(serverId);
  const steps: DrainStep[] = [];
  const stuck: Array<{ tenant_id: string; error: string }> = [];
  for (const tenant of await placedTenants(deps.catalog.knex, { serverId })) {
    try {
      steps.push(await drainStep(deps.placement, tenant, serverId));
    } catch (error) {
      stuck.push({ tenant_id: tenant.tenantId, error: (error as Error).message });
    }
  }
  return { steps, stuck };
}

async function drainStep(
  placement: PlacementPolicy,
  tenant: PlacedTenant,
  serverId: string,
): Promise<DrainStep> {
  const who = { id: tenant.tenantId, region: tenant.region };
  if (tenant.kind === 'shard') {
    const shard = await placement.shardFor(who, { excludeServerId: serverId });
    return { tenant_id: tenant.tenantId, from: tenant.databaseId, to: shard };
  }
  const server = await placement.serverFor(who, { excludeServerId: serverId });
  return { tenant_id: tenant.tenantId, from: tenant.databaseId, to: 'dedicated', server };
}

function destinationOf(step: DrainStep): MoveDestination {
  return step.to === 'dedicated' ? { dedicated: { server: step.server! } } : { shard: step.to };
}

/**
 * Drains a server: marks it draining (so it takes no new placements), then moves every tenant off it, a few
 * at a time, each to where placement sends it at that moment (so the shards fill evenly as tenants arrive).
 * A tenant another move holds is waited for (see moveOff). A move that fails is rolled back by the mover and
 * reported; the drain goes on with the others. Running it
 * again resumes: it moves whatever is still on the server. The server stays draining until `undrain`.
 */
export async function drainServer(
  deps: DrainDeps,
  serverId: string,
  actor: Actor,
  options: { concurrency?: number } = {},
  onProgress: (progress: DrainProgress) => Promise<void> | void = () => {},
): Promise<DrainResult> {
  await onProgress({ phase: 'planning' });
  const server = await deps.catalog.requireServer(serverId);
  await deps.catalog.setServerDraining(serverId, true, actor);
  const tenants = await placedTenants(deps.catalog.knex, { serverId });
  const concurrency = drainConcurrency(server.maxConnections, options.concurrency);
  const failed: DrainResult['failed'] = [];
  const moving = new Set<string>();
  let done = 0;
  const report = () =>
    onProgress({ phase: 'moving', total: tenants.length, done, failed: failed.length, moving: [...moving] });
  await report();
  const queue = [...tenants];
  const worker = async () => {
    for (let tenant = queue.shift(); tenant; tenant = queue.shift()) {
      moving.add(tenant.tenantId);
      await report();
      try {
        await moveOff(deps, tenant, serverId, actor);
      } catch (error) {
        deps.logger.warn({ tenant: tenant.tenantId, server: serverId, err: error }, 'a drain move failed');
        failed.push({ tenant_id: tenant.tenantId, error: (error as Error).message });
      }
      moving.delete(tenant.tenantId);
      done += 1;
      await report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(queue.length, 1)) }, worker));
  const remaining = (await placedTenants(deps.catalog.knex, { serverId })).length;
  const result = { server_id: serverId, moved: tenants.length - failed.length, failed, remaining };
  await deps.catalog.audit(actor, DRAIN_ENDED, null, result);
  await onProgress({ phase: 'done', total: tenants.length, done, failed: failed.length, moving: [] });
  return result;
}

/**
 * Moves one tenant off the server. A tenant another move (or a restore) holds is waited for, then looked at
 * again: that move may have taken it off the server already.
 */
async function moveOff(deps: DrainDeps, tenant: PlacedTenant, serverId: string, actor: Actor): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const now = (await placedTenants(deps.catalog.knex, { serverId })).find(
      (placed) => placed.tenantId === tenant.tenantId,
    );
    if (!now) return;
    try {
      await deps.mover.move(
        now.tenantId,
        destinationOf(await drainStep(deps.placement, now, serverId)),
        actor,
      );
      return;
    } catch (error) {
      const busy = error instanceof ConflictError && error.code === 'move_in_progress';
      if (!busy || attempt >= BUSY_ATTEMPTS) throw error;
      await sleep(BUSY_WAIT_MS);
    }
  }
}

/** A tenant busy with another move is tried again this often, this far apart (a minute in all). */
const BUSY_ATTEMPTS = 40;
const BUSY_WAIT_MS = 1500;

/**
 * Moves at once: as asked (default DEFAULT_DRAIN_CONCURRENCY), but no more than the server's budget outside
 * the routers' share (MIGRATION_BUDGET_SHARE) holds at CONNECTIONS_PER_MOVE each, and at least one.
 */
export function drainConcurrency(maxConnections: number, asked?: number): number {
  const fits = Math.floor((maxConnections * MIGRATION_BUDGET_SHARE) / CONNECTIONS_PER_MOVE);
  return Math.max(1, Math.min(asked ?? DEFAULT_DRAIN_CONCURRENCY, fits));
}
