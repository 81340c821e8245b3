import type { Knex } from 'knex';
import type { Catalog } from '../catalog/catalog.js';
import { NotFoundError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import type { UsageRange } from './usage-range.js';
import { tenantUsagePeriods, type UsagePeriod } from './usage-store.js';

/** A tenant's usage over a range, as `GET /admin/v1/tenants/:id/usage` and `tenantctl usage` give it. */
export interface TenantUsageReport {
  tenant_id: string;
  from: string;
  to: string;
  granularity: UsageRange['granularity'];
  data: UsagePeriod[];
}

/** The tenant's usage over `range`; 404 `tenant_not_found` for a tenant the catalog never had. */
export async function tenantUsageReport(
  deps: { knex: Knex; catalog: Pick<Catalog, 'getTenant'> },
  tenantId: string,
  range: UsageRange,
): Promise<TenantUsageReport> {
  assertSlug(tenantId);
  // A deleted tenant's usage is still there to bill, until the retention takes it.
  if (!(await deps.catalog.getTenant(tenantId))) {
    throw new NotFoundError(`no tenant ${tenantId}`, 'tenant_not_found');
  }
  return {
    tenant_id: tenantId,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    granularity: range.granularity,
    data: await tenantUsagePeriods(deps.knex, tenantId, range),
  };
}
