import type pg from 'pg';
import { assertSlug } from '../ids.js';

/**
 * Runs `work` in a transaction that acts as the tenant (row-level security is forced on tenant tables, for
 * the admin role too unless it is a superuser), committing only if `work` succeeds. `snapshot` makes it a
 * repeatable-read, read-only transaction: every table as of one moment, and nothing written by mistake.
 */
export async function inTenantTransaction<T>(
  client: pg.Client,
  tenantId: string,
  work: () => Promise<T>,
  options: { snapshot?: boolean } = {},
): Promise<T> {
  await client.query(options.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
  try {
    await client.query("SELECT set_config('tenantplane.tenant_id', $1, true)", [assertSlug(tenantId)]);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
