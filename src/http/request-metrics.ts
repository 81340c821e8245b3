import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../metrics/metrics.js';

/** A request being measured. */
interface Timing {
  metrics: Metrics;
  /** performance.now() when the request reached `requestMetrics`. */
  started: number;
  /** Where the router that matched it is mounted (see `mountedAt`). */
  mountPath: string;
}

/**
 * Requests being measured, kept beside their responses rather than on them: a property or a `finish`
 * listener added to every response midway through its handling gives express's and Node's objects
 * another shape, and code that sees both shapes runs slower for every request of the process.
 */
const timings = new WeakMap<ServerResponse, Timing>();

let subscribed = false;

/** Node publishes every finished response of every server here; only the measured ones are recorded. */
function onResponseFinish(message: unknown): void {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  const timing = timings.get(response);
  if (!timing) return;
  const req = request as Request;
  const route = req.route?.path;
  const tenant = req.tenantDb;
  timing.metrics.recordRequest(
    {
      tier: tenant?.tier ?? 'none',
      route: typeof route === 'string' ? `${timing.mountPath}${route}` : 'unmatched',
      method: req.method,
      status: String(response.statusCode),
    },
    (performance.now() - timing.started) / 1000,
    tenant?.tenantId,
  );
}

/**
 * Remembers the mount path of the routers behind it: express forgets `req.baseUrl` once an error leaves
 * the router, and the route label must still read `/api/v1/deployments/:id` for a failed request.
 */
export function mountedAt(): RequestHandler {
  return (req, res, next) => {
    const timing = timings.get(res);
    if (timing) timing.mountPath = req.baseUrl;
    next();
  };
}

/**
 * Counts and times every request by tenant tier, route pattern (never the raw path: ids would make the
 * label set unbounded), method and status; application API requests also count for their tenant.
 */
export function requestMetrics(metrics: Metrics): RequestHandler {
  if (!subscribed) {
    subscribe('http.server.response.finish', onResponseFinish);
    subscribed = true;
  }
  return (_req, res, next) => {
    timings.set(res, { metrics, started: performance.now(), mountPath: '' });
    next();
  };
}
