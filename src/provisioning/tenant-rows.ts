import type pg from 'pg';
import { quoteIdent } from '../ids.js';
import { tenantTables } from './tenant-database.js';

/** Deletes one tenant's rows from every tenant table of a database, in one transaction. */
export async function deleteTenantRows(client: pg.Client, tenantId: string): Promise<number> {
  let removed = 0;
  await client.query('BEGIN');
  try {
    // The admin role may be subject to forced row-level security too: act as the tenant.
    await client.query("SELECT set_config('tenantplane.tenant_id', $1, true)", [tenantId]);
    for (const table of await tenantTables(client)) {
      const result = await client.query(`DELETE FROM ${quoteIdent(table)} WHERE tenant_id = $1`, [tenantId]);
      removed += result.rowCount ?? 0;
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
  return removed;
}
