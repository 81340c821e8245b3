import type { Request, RequestHandler, Response } from 'express';
import { currentContext, type RequestContext } from '../logging/request-context.js';
import type { Metrics } from '../metrics/metrics.js';

/**
 * Counts and times a finished request by tenant tier, route pattern (never the raw path: ids would make
 * the label set unbounded), method and status; application API requests also count for their tenant.
 * `trackRequests({ metrics })` calls it for every response.
 */
export function recordRequestMetrics(
  metrics: Metrics,
  req: Request,
  res: Response,
  context: RequestContext,
): void {
  const route: unknown = req.route?.path;
  const tenant = req.tenantDb;
  metrics.http.record(
    tenant?.tier ?? 'none',
    context.mountPath,
    typeof route === 'string' ? route : undefined,
    req.method,
    res.statusCode,
    (performance.now() - context.started) / 1000,
  );
  if (tenant) metrics.tenants.record(tenant.tenantId);
}

/**
 * Remembers the mount path of the routers behind it in the request's context, for the route label of a
 * request that failed inside them. Use after `trackRequests`. Pass the path the routers are mounted at:
 * without it, `req.baseUrl` is taken, which is the path as the request spelled it (express matches mount
 * paths without regard to case, so `/API/V1` would become a label of its own).
 */
export function mountedAt(mountPath?: string): RequestHandler {
  return (req, _res, next) => {
    const context = currentContext();
    if (context) context.mountPath = mountPath ?? req.baseUrl;
    next();
  };
}
