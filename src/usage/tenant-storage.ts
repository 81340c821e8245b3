import type pg from 'pg';
import type { Catalog } from '../catalog/catalog.js';
import { TENANT_TABLES_SQL, usageStatement } from '../limits/tenant-usage.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';

/** A tenant's storage as the usage sampler records it. */
export interface TenantStorage {
  tenantId: string;
  /** Bytes of its rows, the way storage quotas and rebalances measure them (pg_column_size of each row). */
  bytes: number;
  /** Its rows, over every tenant table. */
  rows: number;
}

/**
 * Measures the storage and row count of each of `tenantIds` in one database, over one admin connection,
 * tenant after tenant, each in a snapshot acting as the tenant (forced row-level security holds for the
 * admin role too).
 */
export async function measureTenantStorage(
  catalog: Catalog,
  database: { serverId: string; databaseName: string },
  tenantIds: readonly string[],
): Promise<TenantStorage[]> {
  if (tenantIds.length === 0) return [];
  const url = await catalog.serverAdminUrl(database.serverId, database.databaseName);
  return withAdminClient(url, async (client) => {
    const tables = (await client.query<{ name: string }>(TENANT_TABLES_SQL)).rows.map((row) => row.name);
    const statement = usageStatement(tables, tables, true);
    const measured: TenantStorage[] = [];
    for (const tenantId of tenantIds) {
      const row = await inTenantTransaction(client, tenantId, () => firstRow(client, statement, tenantId), {
        snapshot: true,
      });
      let rows = 0;
      for (let index = 0; index < tables.length; index += 1) rows += Number(row[`rows_${index}`]);
      measured.push({ tenantId, bytes: Number(row.storage_bytes), rows });
    }
    return measured;
  });
}

async function firstRow(client: pg.Client, text: string, tenantId: string): Promise<Record<string, unknown>> {
  const { rows } = await client.query<Record<string, unknown>>(text, [tenantId]);
  return rows[0] ?? {};
}
