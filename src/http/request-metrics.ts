import type { RequestHandler, Response } from 'express';
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

/** When the request's timing began (performance.now()), kept on the response for its finish listener. */
const STARTED = Symbol('tenantplane.requestStarted');

type TimedResponse = Response & { [STARTED]?: number };

/**
 * Counts and times every request by tenant tier, route pattern (never the raw path: ids would make the
 * label set unbounded), method and status; application API requests also count for their tenant.
 */
export function requestMetrics(metrics: Metrics): RequestHandler {
  // One listener function for every response: the hot path allocates no closure per request.
  function recordFinished(this: TimedResponse): void {
    const req = this.req;
    const route = req.route?.path;
    const tenant = req.tenantDb;
    metrics.recordRequest(
      {
        tier: tenant?.tier ?? 'none',
        route: typeof route === 'string' ? `${req.mountPath ?? ''}${route}` : 'unmatched',
        method: req.method,
        status: String(this.statusCode),
      },
      (performance.now() - (this[STARTED] ?? 0)) / 1000,
      tenant?.tenantId,
    );
  }
  return (_req, res: TimedResponse, next) => {
    res[STARTED] = performance.now();
    // 'finish' comes once per response: `on` spares the wrapper `once` would make.
    res.on('finish', recordFinished);
    next();
  };
}
