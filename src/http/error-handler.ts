import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import {
  databaseUnavailableError,
  type ErrorCode,
  type ErrorFamily,
  NotFoundError,
  RateLimitedError,
  TenantplaneError,
  UnavailableError,
} from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { HTTP_STATUS } from './error-status.js';

/** Unmatched routes get the same error body as everything else. */
export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new NotFoundError('no such route', 'route_not_found'));
}

/**
 * Maps errors to `{"error": {"code", "message"}}` with the status of their family (HTTP_STATUS). A database (or its
 * connection) that went away is a 503 with Retry-After, not a 500, whichever code met it: pg's and knex's
 * errors, and tenantplane's own 500s that wrap one (a migration that lost its session); see
 * databaseUnavailableError. Any other TenantplaneError answers as it is.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (raised, _req, res, next) => {
    if (res.headersSent) return next(raised);
    const error =
      raised instanceof TenantplaneError && raised.family !== 'internal'
        ? raised
        : (databaseUnavailableError(raised) ?? raised);
    if (error instanceof TenantplaneError) {
      if (
        (error instanceof UnavailableError || error instanceof RateLimitedError) &&
        error.retryAfterSeconds !== undefined
      ) {
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      }
      const status = HTTP_STATUS[error.family];
      if (status >= 500) logger.warn({ err: error }, error.message);
      res.status(status).json({ error: { code: error.code, message: error.message, ...error.details } });
      return;
    }
    // body-parser's errors carry a status and a type.
    const bodyError = error as { status?: number; type?: string; message?: string };
    if (bodyError.type === 'entity.parse.failed') {
      answer(res, 'invalid_input', 'invalid_json', 'request body is not valid JSON');
      return;
    }
    if (bodyError.type === 'entity.too.large') {
      answer(res, 'too_large', 'body_too_large', 'request body is too large');
      return;
    }
    logger.error({ err: error }, 'unhandled error');
    answer(res, 'internal', 'internal_error', 'internal error');
  };
}

/** An error body the handler makes itself, for errors that are not tenantplane's. */
function answer(res: Response, family: ErrorFamily, code: ErrorCode, message: string): void {
  res.status(HTTP_STATUS[family]).json({ error: { code, message } });
}
