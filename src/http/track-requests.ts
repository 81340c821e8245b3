import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logging/logger.js';
import { type RequestContext, runWithContext } from '../logging/request-context.js';
import type { Metrics } from '../metrics/metrics.js';
import { recordRequestUsage } from '../usage/request-usage.js';
import type { UsageMeter } from '../usage/usage-meter.js';
import { recordRequestMetrics } from './request-metrics.js';

const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

declare global {
  namespace Express {
    interface Request {
      requestId: string;
    }
  }
}

export interface TrackRequestsOptions {
  /** Logs each finished request: at debug, or warn for 5xx. */
  logger?: Logger | undefined;
  /** Counts and times each finished request (see `recordRequestMetrics`). */
  metrics?: Metrics | undefined;
  /** Counts each finished request for its tenant's usage (see `recordRequestUsage`). */
  usage?: UsageMeter | undefined;
}

/**
 * Takes the caller's X-Request-Id when it is sane, else makes one, and runs the request inside a context
 * (see `RequestContext`): every pino line written while serving it carries the request id and, once
 * authenticated, the tenant. When the response is finished, it is logged and measured from that context.
 *
 * Logging and metrics share one context object and one `finish` listener per request: each extra object
 * tied to a response, or listener added to it, is paid for on every request of a busy service.
 */
export function trackRequests(options: TrackRequestsOptions = {}): RequestHandler {
  const { logger, metrics, usage } = options;
  const finished =
    logger || metrics || usage
      ? (req: Request, res: Response, context: RequestContext): void => {
          if (logger) logFinished(logger, req, res, context);
          if (metrics) recordRequestMetrics(metrics, req, res, context);
          if (usage) recordRequestUsage(usage, req, res, context);
        }
      : undefined;
  return (req, res, next) => {
    const given = req.get('x-request-id');
    req.requestId = given && ACCEPTABLE_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    const context: RequestContext = {
      requestId: req.requestId,
      tenantId: undefined,
      started: performance.now(),
      mountPath: '',
      dbTimeMs: 0,
    };
    if (finished) res.once('finish', () => finished(req, res, context));
    runWithContext(context, next);
  };
}

function logFinished(logger: Logger, req: Request, res: Response, context: RequestContext): void {
  const level = res.statusCode >= 500 ? 'warn' : 'debug';
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      requestId: context.requestId,
      tenantId: context.tenantId,
      method: req.method,
      path: req.originalUrl.split('?')[0],
      status: res.statusCode,
      ms: performance.now() - context.started,
    },
    'request',
  );
}
