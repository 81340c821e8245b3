import type { Catalog } from '../catalog/catalog.js';
import type { TenantLimits, TenantRecord } from '../catalog/records.js';
import { UnavailableError } from '../errors.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { describeTenant, type TenantView } from '../provisioning/tenant-view.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';
import { tenantLimits } from './tenant-limits.js';

/** What a tenant uses of each quota. */
export interface TenantUsage {
  users: number;
  deployments: number;
  workflows: number;
  /** The size of the tenant's rows in every tenant table (pg_column_size of each row; indexes excluded). */
  storage_bytes: number;
}

/** The quotas a create can run into, by the table whose rows it counts. */
export type CountedQuota = 'users' | 'deployments' | 'workflows';

/**
 * One statement measuring all of a tenant's usage; `$1` is the tenant id. Row sizes rather than
 * pg_database_size so that a tenant on a shard and one in its own database are measured alike.
 */
export const TENANT_USAGE_SQL = `SELECT
  (SELECT count(*) FROM users WHERE tenant_id = $1)::int AS users,
  (SELECT count(*) FROM deployments WHERE tenant_id = $1)::int AS deployments,
  (SELECT count(*) FROM workflows WHERE tenant_id = $1)::int AS workflows,
  ((SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM users r WHERE tenant_id = $1)
   + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM deployments r WHERE tenant_id = $1)
   + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM workflows r WHERE tenant_id = $1)
   + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM audit_events r WHERE tenant_id = $1))::bigint
   AS storage_bytes`;

export function toUsage(row: Record<string, unknown>): TenantUsage {
  return {
    users: Number(row.users),
    deployments: Number(row.deployments),
    workflows: Number(row.workflows),
    storage_bytes: Number(row.storage_bytes),
  };
}

/** The limits as the admin API and `tenants show` present them (null: unlimited). */
export function limitsView(limits: TenantLimits): Record<string, number | null> {
  return {
    requests_per_minute: limits.requestsPerMinute,
    users: limits.users,
    deployments: limits.deployments,
    workflows: limits.workflows,
    storage_bytes: limits.storageBytes,
  };
}

/** A tenant's usage, read on its database over the server's admin connection; undefined without a placement. */
export async function tenantUsage(catalog: Catalog, tenant: TenantRecord): Promise<TenantUsage | undefined> {
  if (!tenant.databaseId) return undefined;
  const database = await catalog.getDatabase(tenant.databaseId);
  if (!database) return undefined;
  const url = await catalog.serverAdminUrl(database.serverId, database.databaseName);
  // The admin role may be subject to forced row-level security too: act as the tenant.
  return withAdminClient(url, (client) =>
    inTenantTransaction(
      client,
      tenant.id,
      async () => toUsage((await client.query(TENANT_USAGE_SQL, [tenant.id])).rows[0]),
      { snapshot: true },
    ),
  );
}

/** A tenant as `GET /admin/v1/tenants/:id` and `tenants show` present it: with its limits and usage. */
export async function describeTenantWithUsage(
  catalog: Catalog,
  tenant: TenantRecord,
): Promise<TenantView & { limits: Record<string, number | null>; usage: TenantUsage | null }> {
  const [view, limits, usage] = await Promise.all([
    describeTenant(catalog, tenant),
    tenantLimits(catalog, tenant),
    // A server that is down leaves usage unknown rather than failing the whole answer.
    tenantUsage(catalog, tenant).catch((error: unknown) => {
      if (error instanceof UnavailableError) return undefined;
      throw error;
    }),
  ]);
  return { ...view, limits: limitsView(limits), usage: usage ?? null };
}
