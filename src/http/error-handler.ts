import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  databaseUnavailableError,
  NotFoundError,
  RateLimitedError,
  TenantplaneError,
  UnavailableError,
} from '../errors.js';
import type { Logger } from '../logging/logger.js';

/** Unmatched routes get the same error body as everything else. */
export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new NotFoundError('no such route', 'route_not_found'));
}

/**
 * Maps errors to `{"error": {"code", "message"}}` with the status their code carries. A database (or its
 * connection) that went away is a 503 with Retry-After, not a 500, whichever code met it: pg's and knex's
 * errors, and tenantplane's own 500s that wrap one (a migration that lost its session); see
 * databaseUnavailableError. Any other TenantplaneError answers as it is.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (raised, _req, res, next) => {
    if (res.headersSent) return next(raised);
    const error =
      raised instanceof TenantplaneError && raised.status !== 500
        ? raised
        : (databaseUnavailableError(raised) ?? raised);
    if (error instanceof TenantplaneError) {
      if (
        (error instanceof UnavailableError || error instanceof RateLimitedError) &&
        error.retryAfterSeconds !== undefined
      ) {
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      }
      if (error.status >= 500) logger.warn({ err: error }, error.message);
      res
        .status(error.status)
        .json({ error: { code: error.code, message: error.message, ...error.details } });
      return;
    }
    // body-parser's errors carry a status and a type.
    const bodyError = error as { status?: number; type?: string; message?: string };
    if (bodyError.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_json', message: 'request body is not valid JSON' } });
      return;
    }
    if (bodyError.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'body_too_large', message: 'request body is too large' } });
      return;
    }
    logger.error({ err: error }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal_error', message: 'internal error' } });
  };
}
