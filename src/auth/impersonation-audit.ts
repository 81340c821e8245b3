import type { Request } from 'express';
import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../logging/logger.js';

/** The audit action of each request made with an impersonation token. */
export const IMPERSONATED_REQUEST_ACTION = 'tenant.impersonation.request';

/** Longer paths are cut: the audit row records what was asked, not an unbounded copy of it. */
const MAX_PATH_LENGTH = 2048;

/**
 * What happens to each request made with an impersonation token: an audit row (actor `token:<operator>`,
 * the tenant, method, path and the token's `jti`) written before the request is served, so an impersonated
 * request is never served unaudited (a catalog outage fails it with 503 instead), and a log line with the
 * operator and the answer's status once it is sent.
 */
export function auditImpersonatedRequests(deps: {
  catalog: Pick<Catalog, 'audit'>;
  logger: Logger;
}): (req: Request) => Promise<void> {
  return async (req) => {
    const principal = req.principal!;
    const operator = principal.actor!;
    const details = {
      method: req.method,
      path: req.originalUrl.slice(0, MAX_PATH_LENGTH),
      jti: typeof principal.claims.jti === 'string' ? principal.claims.jti : null,
    };
    await deps.catalog.audit(
      { actor: `token:${operator}`, requestId: req.requestId },
      IMPERSONATED_REQUEST_ACTION,
      principal.tenantId ?? null,
      details,
    );
    req.res?.once('finish', () => {
      deps.logger.info(
        {
          impersonation: { operator, tenantId: principal.tenantId, ...details, status: req.res?.statusCode },
        },
        'impersonated request',
      );
    });
  };
}
