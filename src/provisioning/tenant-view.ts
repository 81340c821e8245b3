import type { Catalog } from '../catalog/catalog.js';
import type { DatabaseRecord, FeatureFlags, TenantRecord } from '../catalog/records.js';

/** A tenant as the admin API and `tenantctl tenants show --json` present it. */
export interface TenantView {
  id: string;
  name: string;
  tier: string;
  status: string;
  /** The region the tenant is pinned to; null: unpinned. */
  region: string | null;
  placement: { kind: string; database_id: string; server_id: string; database_name: string } | null;
  /** The tenant's own feature flags, overriding its tier's. */
  feature_overrides: FeatureFlags;
  created_at: string;
  updated_at: string;
}

function view(tenant: TenantRecord, database: DatabaseRecord | undefined): TenantView {
  return {
    id: tenant.id,
    name: tenant.name,
    tier: tenant.tier,
    status: tenant.status,
    region: tenant.region,
    placement: database
      ? {
          kind: database.kind,
          database_id: database.id,
          server_id: database.serverId,
          database_name: database.databaseName,
        }
      : null,
    feature_overrides: tenant.featureOverrides,
    created_at: tenant.createdAt.toISOString(),
    updated_at: tenant.updatedAt.toISOString(),
  };
}

export async function describeTenant(catalog: Catalog, tenant: TenantRecord): Promise<TenantView> {
  return view(tenant, tenant.databaseId ? await catalog.getDatabase(tenant.databaseId) : undefined);
}

/** A page of tenants with one catalog read for all their placements, not one per tenant. */
export async function describeTenants(catalog: Catalog, tenants: TenantRecord[]): Promise<TenantView[]> {
  const databases = new Map((await catalog.listDatabases()).map((database) => [database.id, database]));
  return tenants.map((tenant) =>
    view(tenant, tenant.databaseId ? databases.get(tenant.databaseId) : undefined),
  );
}
