import type { RequestHandler } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import { ForbiddenError } from '../../errors/index.js';
import { limitsView, measureUsage } from '../../limits/tenant-usage.js';

/**
 * `GET /api/v1/tenant`: the calling tenant's own view, on which an application builds its self-service page:
 * `{id, name, tier, status, features, limits, usage}`. Tier, effective feature flags and limits come from
 * the tenant's cached route; its name from the catalog (routes do not carry it: one string per cached
 * tenant for a route this rare); its usage is measured on the tenant's database, as the tenant, at each
 * call (its rows per quota and the size of its rows), so a page should not poll it.
 */
export function ownTenant(catalog: Catalog): RequestHandler {
  return async (req, res) => {
    const db = req.tenantDb;
    if (!db) throw new ForbiddenError('the request names no tenant', 'tenant_required');
    const [tenant, usage] = await Promise.all([
      catalog.requireTenant(db.tenantId),
      db.transaction((trx) => measureUsage(trx, db.tenantId, db.limits.quotas)),
    ]);
    res.json({
      id: db.tenantId,
      name: tenant.name,
      tier: db.tier,
      // The router serves only an active tenant; any other is refused before this runs.
      status: 'active',
      features: db.features,
      limits: limitsView(db.limits),
      usage,
    });
  };
}
