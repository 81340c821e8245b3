import type { RequestHandler } from 'express';
import { ForbiddenError } from '../../errors/index.js';
import { limitsView, measureUsage } from '../../limits/tenant-usage.js';

/**
 * `GET /api/v1/tenant`: the calling tenant's own view, on which an application builds its self-service page:
 * `{id, name, tier, status, features, limits, usage}`. Everything but the usage comes from the tenant's
 * cached route (its effective feature flags included); the usage is measured on the tenant's database, as
 * the tenant, at each call (its rows per quota and the size of its rows), so a page should not poll it.
 */
export const ownTenant: RequestHandler = async (req, res) => {
  const db = req.tenantDb;
  if (!db) throw new ForbiddenError('the request names no tenant', 'tenant_required');
  const usage = await db.transaction((trx) => measureUsage(trx, db.tenantId, db.limits.quotas));
  res.json({
    id: db.tenantId,
    name: db.tenantName,
    tier: db.tier,
    // The router serves only an active tenant; any other is refused before this runs.
    status: 'active',
    features: db.features,
    limits: limitsView(db.limits),
    usage,
  });
};
