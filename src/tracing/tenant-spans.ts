import type { Principal } from '../auth/principal.js';
import type { TenantRoute } from '../catalog/records.js';
import type { PoolTarget } from '../routing/elastic-pool.js';
import { TENANT_ID, TENANT_TIER, tracingOn, withSpan } from './spans.js';

/** `auth.verify_token`: the bearer token's verification, with the tenant it names. */
export function traceTokenVerification(verify: () => Promise<Principal>): Promise<Principal> {
  if (!tracingOn()) return verify();
  return withSpan('auth.verify_token', {}, async (span) => {
    const principal = await verify();
    if (principal.tenantId !== undefined) span?.setAttribute(TENANT_ID, principal.tenantId);
    return principal;
  });
}

/** `catalog.lookup`: finding the tenant's route (cached or from the catalog), with its tier and database. */
export function traceCatalogLookup(
  tenantId: string,
  lookup: () => Promise<TenantRoute | undefined>,
): Promise<TenantRoute | undefined> {
  if (!tracingOn()) return lookup();
  return withSpan('catalog.lookup', { [TENANT_ID]: tenantId }, async (span) => {
    const route = await lookup();
    if (route) span?.setAttributes({ [TENANT_TIER]: route.tier, 'db.name': route.databaseName });
    return route;
  });
}

/** `pool.acquire`: waiting for a connection of the target's pool (opening one if it must). */
export function tracePoolAcquire<T>(target: PoolTarget, acquire: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return acquire();
  return withSpan('pool.acquire', { 'db.system': 'postgresql', 'db.name': target.databaseName }, acquire);
}
