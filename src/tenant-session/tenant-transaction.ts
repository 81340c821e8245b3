import type pg from 'pg';
import { assertSlug } from '../ids.js';
import { SET_TENANT_SQL } from './tenant-setting.js';

/**
 * Opens a transaction that acts as the tenant: row-level security is forced on tenant tables, for the admin
 * role too unless it is a superuser. A `snapshot` transaction is REPEATABLE READ and read-only: every table
 * as of one moment, and nothing written by mistake.
 */
export async function beginAsTenant(client: pg.Client, tenantId: string, snapshot = false): Promise<void> {
  await client.query(snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
  await client.query(SET_TENANT_SQL, [assertSlug(tenantId)]);
}

/** Runs `work` in a transaction that acts as the tenant (see beginAsTenant), committing only if it succeeds. */
export async function inTenantTransaction<T>(
  client: pg.Client,
  tenantId: string,
  work: () => Promise<T>,
  options: { snapshot?: boolean } = {},
): Promise<T> {
  try {
    await beginAsTenant(client, tenantId, options.snapshot);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
