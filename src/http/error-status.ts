import type { ErrorFamily } from '../errors/codes.js';

/**
 * The HTTP status of each family of errors: the one place a status is decided. The error handler answers
 * with it; TenantplaneError's `status` is read from it too.
 */
export const HTTP_STATUS: Readonly<Record<ErrorFamily, number>> = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  too_large: 413,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
};
