import type { RequestHandler } from 'express';
import { ForbiddenError } from '../errors/index.js';
import { bindTenantToContext } from '../logging/request-context.js';
import type { TenantDatabase } from '../routing/tenant-database.js';
import type { TenantRouter } from '../routing/tenant-router.js';
import { withTenant } from '../tracing/spans.js';

declare global {
  namespace Express {
    interface Request {
      /** The authenticated tenant's database, set by `tenantContext`. */
      tenantDb?: TenantDatabase;
    }
  }
}

export interface TenantContextOptions {
  /**
   * Base domain for tenant subdomains (`acme.example.com` with base `example.com`). A request whose
   * subdomain names another tenant than its token is refused. Default: subdomains are not checked.
   */
  tenantDomain?: string;
}

/**
 * Binds a request to the tenant in its verified token: refuses an `X-Tenant-ID` header or subdomain that
 * names another tenant, then puts the tenant's database on `req.tenantDb`. Use after `authenticate`.
 */
export function tenantContext(router: TenantRouter, options: TenantContextOptions = {}): RequestHandler {
  const suffix = options.tenantDomain ? `.${options.tenantDomain.toLowerCase()}` : undefined;
  return async (req, _res, next) => {
    try {
      const tenantId = req.principal?.tenantId;
      if (!tenantId) throw new ForbiddenError('the token names no tenant', 'tenant_required');
      const header = req.get('x-tenant-id');
      if (header !== undefined && header !== tenantId) {
        throw new ForbiddenError('X-Tenant-ID does not match the token', 'tenant_mismatch');
      }
      if (suffix && req.hostname.toLowerCase().endsWith(suffix)) {
        const subdomain = req.hostname.slice(0, -suffix.length).toLowerCase();
        if (subdomain !== tenantId)
          throw new ForbiddenError('subdomain does not match the token', 'tenant_mismatch');
      }
      bindTenantToContext(tenantId);
      req.tenantDb = await router.forTenant(tenantId);
      // Spans of the rest of the request (its statements) carry the tenant and its tier.
      withTenant({ id: tenantId, tier: req.tenantDb.tier }, next);
    } catch (error) {
      next(error);
    }
  };
}
