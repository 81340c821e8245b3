import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logging/logger.js';
import { type RequestContext, runWithContext } from '../logging/request-context.js';

const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

declare global {
  namespace Express {
    interface Request {
      requestId: string;
    }
  }
}

/**
 * Takes the caller's X-Request-Id when it is sane, else makes one, and runs the request inside a logging
 * context: every pino line written while serving it carries the request id and, once authenticated, the
 * tenant. With a logger, each finished request is logged too (at debug, or warn for 5xx).
 */
export function requestId(logger?: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    req.requestId = given && ACCEPTABLE_REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    const context: RequestContext = { requestId: req.requestId };
    if (logger) {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const level = res.statusCode >= 500 ? 'warn' : 'debug';
        if (!logger.isLevelEnabled(level)) return;
        logger[level](
          {
            requestId: context.requestId,
            tenantId: context.tenantId,
            method: req.method,
            path: req.originalUrl.split('?')[0],
            status: res.statusCode,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          },
          'request',
        );
      });
    }
    runWithContext(context, next);
  };
}
