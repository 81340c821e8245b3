import pg from 'pg';
import { ConflictError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

/** What every connection a move opens calls itself, so operators can find them in pg_stat_activity. */
export const MOVER_APPLICATION_NAME = 'tenantplane-mover';

/**
 * Holds a session advisory lock on the control database for one tenant's move, so two processes (the CLI
 * and a worker, say) never move the same tenant at once. A process that dies releases it with its session,
 * which is what lets the next attempt treat a leftover move record as abandoned.
 */
export async function lockTenantMove(
  controlDatabaseUrl: string,
  tenantId: string,
  options: { logger?: Logger } = {},
): Promise<() => Promise<void>> {
  const client = new pg.Client({
    connectionString: controlDatabaseUrl,
    connectionTimeoutMillis: 10000,
    application_name: MOVER_APPLICATION_NAME,
  });
  let held = false;
  // A lost connection also loses the lock: another process may now start a move of the same tenant. The
  // move's own catalog writes are conditional, so it stays safe, but an operator should hear of it. The
  // listener also keeps the lost connection's 'error' from taking the process down.
  client.on('error', (error) => {
    if (!held) return;
    held = false;
    const message = `lost the move lock of tenant ${tenantId}: its connection to the control database failed`;
    if (options.logger) options.logger.error({ tenant: tenantId, err: error }, message);
    else process.emitWarning(`${message}: ${error.message}`, { code: 'TENANTPLANE_MOVE_LOCK_LOST' });
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock(hashtext('tenantplane.move'), hashtext($1)) AS locked",
      [tenantId],
    );
    if (!rows[0]?.locked) {
      throw new ConflictError(`tenant ${tenantId} is already being moved`, 'move_in_progress');
    }
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  held = true;
  return () => {
    held = false;
    return client.end().catch(() => {});
  };
}
