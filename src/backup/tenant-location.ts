import type { Catalog } from '../catalog/catalog.js';
import type { Placement } from '../catalog/records.js';
import { ConflictError } from '../errors/index.js';
import { assertSlug } from '../ids.js';

/** Where a tenant's rows live, reached as the server's admin role. */
export interface TenantLocation {
  tenantId: string;
  placement: Placement;
  databaseId: string;
  databaseName: string;
  serverId: string;
  adminUrl: string;
}

export async function locateTenant(catalog: Catalog, tenantId: string): Promise<TenantLocation> {
  assertSlug(tenantId);
  const tenant = await catalog.requireTenant(tenantId);
  const database = tenant.databaseId ? await catalog.getDatabase(tenant.databaseId) : undefined;
  if (!database || tenant.status === 'deleted' || tenant.status === 'deleting') {
    throw new ConflictError(
      `tenant ${tenantId} is ${tenant.status} and has no database`,
      'tenant_not_placed',
    );
  }
  return {
    tenantId,
    placement: database.kind,
    databaseId: database.id,
    databaseName: database.databaseName,
    serverId: database.serverId,
    adminUrl: await catalog.serverAdminUrl(database.serverId, database.databaseName),
  };
}
