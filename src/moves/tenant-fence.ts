import type { Catalog } from '../catalog/catalog.js';
import { ConflictError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { MoveLedger, type MoveRecord } from './move-ledger.js';
import { lockTenantMove } from './move-lock.js';
import { quiesceTenant } from './tenant-quiesce.js';

export interface TenantFenceOptions {
  catalog: Catalog;
  logger: Logger;
  controlDatabaseUrl: string;
  /** How long to wait for every live serving instance to confirm the pause, in ms. Default 10000. */
  confirmTimeoutMs?: number;
  /** How long to wait for the transactions begun before the pause, in ms. Default 30000. */
  drainTimeoutMs?: number;
}

export type FencePhase = 'paused' | 'resuming' | 'resumed';

/**
 * Runs `work` while nothing but it can write the tenant's rows, for a restore in place:
 *
 * - the tenant's move lock is held, so a move or another fenced operation of the same tenant is refused
 *   (409 `move_in_progress`) rather than interleaved; `work` gets a check to run just before it commits,
 *   which throws if the lock has been lost meanwhile;
 * - the tenant is paused (status `moving`: every router answers 503 with Retry-After at once, so its
 *   requests do not queue on a shared pool in front of its neighbours');
 * - every live serving instance has confirmed the pause, and every transaction begun before it has ended.
 *
 * The fence is recorded in `tenant_moves` as a move to the database the tenant is on, so a crash inside it
 * is undone by the next move or fence of the tenant: rolling such a "move" back only gives the tenant its
 * status back. `databaseId` is where the caller expects the tenant; if it is elsewhere, or not active or
 * suspended, nothing is paused and the call is a conflict.
 */
export async function withTenantFenced<T>(
  options: TenantFenceOptions,
  tenantId: string,
  databaseId: string,
  work: (beforeCommit: () => Promise<void>) => Promise<T>,
  onPhase: (phase: FencePhase) => void = () => {},
): Promise<T> {
  const { catalog, logger } = options;
  const ledger = new MoveLedger(catalog.knex);
  const lock = await lockTenantMove(options.controlDatabaseUrl, tenantId, { logger });
  try {
    await clearLeftoverFence(ledger, tenantId);
    const tenant = await catalog.requireTenant(tenantId);
    if (tenant.databaseId !== databaseId || (tenant.status !== 'active' && tenant.status !== 'suspended')) {
      throw new ConflictError(
        `tenant ${tenantId} changed (now ${tenant.status} on ${tenant.databaseId ?? 'no database'}); try again`,
        'tenant_changed',
      );
    }
    const fence: MoveRecord = {
      tenantId,
      fromDatabaseId: databaseId,
      toDatabaseId: databaseId,
      fromTier: tenant.tier,
      toTier: tenant.tier,
      fromStatus: tenant.status,
      state: 'copying',
    };
    await ledger.start(fence);
    try {
      const database = await catalog.getDatabase(databaseId);
      if (!database) throw new ConflictError(`database ${databaseId} is gone`, 'database_not_ready');
      const server = await catalog.requireServer(database.serverId);
      await withAdminClient(await catalog.serverAdminUrl(server.id), (admin) =>
        quiesceTenant(
          catalog.knex,
          fence,
          { admin, databaseName: database.databaseName, appRole: server.appRole },
          {
            confirmTimeoutMs: options.confirmTimeoutMs ?? 10000,
            drainTimeoutMs: options.drainTimeoutMs ?? 30000,
            onPaused: () => onPhase('paused'),
          },
        ),
      );
      lock.signal.throwIfAborted();
      // Last thing before the work commits: with the lock gone, another process may have undone the fence.
      return await work(() => lock.assertHeld(catalog.knex));
    } finally {
      onPhase('resuming');
      // Left in place if this fails (the control database went away): the next move or fence undoes it.
      await ledger.resume(fence);
      await ledger.forget(tenantId);
      onPhase('resumed');
    }
  } finally {
    await lock.release();
  }
}

/**
 * A fence a crashed process left (a "move" to where the tenant is) only needs the tenant's status back; a
 * real move left behind is the mover's to roll back or finish.
 */
async function clearLeftoverFence(ledger: MoveLedger, tenantId: string): Promise<void> {
  const leftover = await ledger.get(tenantId);
  if (!leftover) return;
  if (leftover.fromDatabaseId !== leftover.toDatabaseId) {
    throw new ConflictError(
      `tenant ${tenantId} has an unfinished move; run the move again to finish it`,
      'move_unfinished',
    );
  }
  await ledger.resume(leftover);
  await ledger.forget(tenantId);
}
