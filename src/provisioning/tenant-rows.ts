import type pg from 'pg';
import { quoteIdent } from '../ids.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';
import { tenantTables } from './tenant-database.js';

/** Deletes one tenant's rows from every tenant table of a database, in one transaction. */
export async function deleteTenantRows(client: pg.Client, tenantId: string): Promise<number> {
  // The admin role may be subject to forced row-level security too: act as the tenant.
  return inTenantTransaction(client, tenantId, async () => {
    let removed = 0;
    for (const table of await tenantTables(client)) {
      const result = await client.query(`DELETE FROM ${quoteIdent(table)} WHERE tenant_id = $1`, [tenantId]);
      removed += result.rowCount ?? 0;
    }
    return removed;
  });
}
