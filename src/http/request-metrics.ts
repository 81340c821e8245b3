import type { RequestHandler } from 'express';
import type { Metrics } from '../metrics/metrics.js';

declare global {
  namespace Express {
    interface Request {
      /** Where the router that matched this request is mounted (see `mountedAt`). */
      mountPath?: string;
    }
  }
}

/**
 * Remembers the mount path of the routers behind it: express forgets `req.baseUrl` once an error leaves
 * the router, and the route label must still read `/api/v1/deployments/:id` for a failed request.
 */
export function mountedAt(): RequestHandler {
  return (req, _res, next) => {
    req.mountPath = req.baseUrl;
    next();
  };
}

/**
 * Counts and times every request by tenant tier, route pattern (never the raw path: ids would make the
 * label set unbounded), method and status; application API requests also count for their tenant.
 */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const route = req.route?.path;
      const tenant = req.tenantDb;
      metrics.recordRequest(
        {
          tier: tenant?.tier ?? 'none',
          route: typeof route === 'string' ? `${req.mountPath ?? ''}${route}` : 'unmatched',
          method: req.method,
          status: String(res.statusCode),
        },
        (performance.now() - started) / 1000,
        tenant?.tenantId,
      );
    });
    next();
  };
}
