/**
 * Every error tenantplane raises on purpose carries a stable snake_case `code` and the HTTP status it maps
 * to. The HTTP layer and the CLI decide by code, never by message text.
 */
export class TenantplaneError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    status: number,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = options?.details;
  }
}

/** Input failed validation (HTTP 400, CLI exit 2). */
export class InvalidInputError extends TenantplaneError {
  constructor(message: string, code = 'invalid_input', details?: Record<string, unknown>) {
    super(code, 400, message, details ? { details } : undefined);
  }
}

/** No or bad credentials (HTTP 401). */
export class UnauthenticatedError extends TenantplaneError {
  constructor(message: string, code = 'unauthenticated', cause?: unknown) {
    super(code, 401, message, { cause });
  }
}

/** Valid credentials, action not allowed (HTTP 403). */
export class ForbiddenError extends TenantplaneError {
  constructor(message: string, code = 'forbidden') {
    super(code, 403, message);
  }
}

/** The thing does not exist, or belongs to someone else (HTTP 404). */
export class NotFoundError extends TenantplaneError {
  constructor(message: string, code = 'not_found') {
    super(code, 404, message);
  }
}

/** The request conflicts with the current state (HTTP 409). */
export class ConflictError extends TenantplaneError {
  constructor(message: string, code = 'conflict') {
    super(code, 409, message);
  }
}

/** A dependency (database server, identity provider) is down (HTTP 503). */
export class UnavailableError extends TenantplaneError {
  readonly retryAfterSeconds: number | undefined;
  constructor(
    message: string,
    code = 'unavailable',
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(code, 503, message, { cause: options?.cause });
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** A tenant created past one of its tier's quotas (HTTP 403); the body names the quota, limit and usage. */
export class QuotaExceededError extends TenantplaneError {
  constructor(quota: string, limit: number, usage: number) {
    super('quota_exceeded', 403, `quota ${quota} reached: ${usage} of ${limit}`, {
      details: { quota, limit, usage },
    });
  }
}

/** Too many requests for the tenant's rate limit (HTTP 429, with Retry-After). */
export class RateLimitedError extends TenantplaneError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', 429, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Configuration is missing or contradictory; raised at start, never on a request. */
export class ConfigError extends TenantplaneError {
  constructor(message: string) {
    super('invalid_config', 500, message);
  }
}
