import { HTTP_STATUS } from '../http/error-status.js';
import type {
  ConflictCode,
  ErrorCode,
  ErrorFamily,
  ForbiddenCode,
  InvalidInputCode,
  NotFoundCode,
  UnauthenticatedCode,
  UnavailableCode,
} from './codes.js';

/**
 * Every error tenantplane raises on purpose carries a stable snake_case `code` and the family it belongs
 * to, whose HTTP status (see src/http/error-status.ts) it answers with. The HTTP layer and the CLI decide
 * by code or class, never by message text.
 */
export class TenantplaneError extends Error {
  readonly code: ErrorCode;
  readonly family: ErrorFamily;
  /** The family's HTTP status, from HTTP_STATUS. */
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    family: ErrorFamily,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.family = family;
    this.status = HTTP_STATUS[family];
    this.details = options?.details;
  }
}

/** Input failed validation (HTTP 400, CLI exit 2). */
export class InvalidInputError extends TenantplaneError {
  constructor(message: string, code: InvalidInputCode = 'invalid_input', details?: Record<string, unknown>) {
    super(code, 'invalid_input', message, details ? { details } : undefined);
  }
}

/** No or bad credentials (HTTP 401). */
export class UnauthenticatedError extends TenantplaneError {
  constructor(message: string, code: UnauthenticatedCode = 'unauthenticated', cause?: unknown) {
    super(code, 'unauthenticated', message, { cause });
  }
}

/** Valid credentials, action not allowed (HTTP 403). */
export class ForbiddenError extends TenantplaneError {
  constructor(message: string, code: ForbiddenCode = 'forbidden') {
    super(code, 'forbidden', message);
  }
}

/** The thing does not exist, or belongs to someone else (HTTP 404). */
export class NotFoundError extends TenantplaneError {
  constructor(message: string, code: NotFoundCode = 'not_found') {
    super(code, 'not_found', message);
  }
}

/** The request conflicts with the current state (HTTP 409). */
export class ConflictError extends TenantplaneError {
  constructor(message: string, code: ConflictCode = 'conflict') {
    super(code, 'conflict', message);
  }
}

/** A dependency (database server, identity provider) is down (HTTP 503). */
export class UnavailableError extends TenantplaneError {
  readonly retryAfterSeconds: number | undefined;
  constructor(
    message: string,
    code: UnavailableCode = 'unavailable',
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(code, 'unavailable', message, { cause: options?.cause });
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** A tenant created past one of its tier's quotas (HTTP 403); the body names the quota, limit and usage. */
export class QuotaExceededError extends TenantplaneError {
  constructor(quota: string, limit: number, usage: number) {
    super('quota_exceeded', 'forbidden', `quota ${quota} reached: ${usage} of ${limit}`, {
      details: { quota, limit, usage },
    });
  }
}

/** Too many requests for the tenant's rate limit (HTTP 429, with Retry-After). */
export class RateLimitedError extends TenantplaneError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('rate_limited', 'rate_limited', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Configuration is missing or contradictory; raised at start, never on a request. */
export class ConfigError extends TenantplaneError {
  constructor(message: string) {
    super('invalid_config', 'internal', message);
  }
}
