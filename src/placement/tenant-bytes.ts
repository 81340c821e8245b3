import type { Catalog } from '../catalog/catalog.js';
import { measureUsage } from '../limits/tenant-usage.js';
import { STORAGE_QUOTA } from '../limits/tier-quotas.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';

/**
 * The bytes each tenant's rows take in one database, the way quotas measure storage (pg_column_size of
 * every row, indexes left out): the same for a tenant on a shard and in its own database, and the same
 * from one measurement to the next while the rows stay the same, so that a rebalance's dry run and the
 * run that follows plan alike. Reads every row of each tenant, in a snapshot acting as the tenant.
 */
export async function measureTenantBytes(
  catalog: Catalog,
  database: { serverId: string; databaseName: string },
  tenantIds: readonly string[],
): Promise<Map<string, number>> {
  const bytes = new Map<string, number>();
  if (tenantIds.length === 0) return bytes;
  const url = await catalog.serverAdminUrl(database.serverId, database.databaseName);
  await withAdminClient(url, async (client) => {
    for (const tenantId of tenantIds) {
      const usage = await inTenantTransaction(client, tenantId, () => measureUsage(client, tenantId, []), {
        snapshot: true,
      });
      bytes.set(tenantId, usage[STORAGE_QUOTA] ?? 0);
    }
  });
  return bytes;
}
