import type { Actor, Catalog } from '../catalog/catalog.js';
import type { TenantLimits, TenantRecord } from '../catalog/records.js';
import { InvalidFieldError, NotFoundError } from '../errors/index.js';

/** The highest per-tenant request rate accepted, per minute. */
export const MAX_REQUESTS_PER_MINUTE = 100_000_000;

/** A tenant's limits: its tier's, with its own request rate when it has one. */
export async function tenantLimits(catalog: Catalog, tenant: TenantRecord): Promise<TenantLimits> {
  const tier = await catalog.getTier(tenant.tier);
  if (!tier) throw new NotFoundError(`no tier ${tenant.tier}`, 'unknown_tier');
  return { requestsPerMinute: tenant.requestsPerMinute ?? tier.requestsPerMinute, quotas: tier.quotas };
}

/** Checks a request-rate override: a positive integer, or null to go back to the tier's rate. */
export function checkRequestRate(value: unknown): number | null {
  if (value === null) return null;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_REQUESTS_PER_MINUTE) {
    throw new InvalidFieldError(
      `requests_per_minute must be an integer from 1 to ${MAX_REQUESTS_PER_MINUTE}, or null for the tier's`,
    );
  }
  return value as number;
}

/**
 * Sets or clears a tenant's own request rate. Every instance picks it up at once: the change notifies the
 * routers, whose cached routes carry the limit.
 */
export async function setRequestRate(
  catalog: Catalog,
  tenantId: string,
  requestsPerMinute: number | null,
  actor: Actor,
): Promise<TenantRecord> {
  const tenant = await catalog.requireTenant(tenantId);
  const rate = checkRequestRate(requestsPerMinute);
  const updated = await catalog.updateTenant(tenantId, { requestsPerMinute: rate });
  await catalog.audit(actor, 'tenant.set_limits', tenantId, {
    requests_per_minute: { from: tenant.requestsPerMinute, to: rate },
  });
  return updated;
}
