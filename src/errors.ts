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

/**
 * A write-once put found an object already stored under its key and left it as it was (HTTP 409). Backups
 * are written this way, so a stored backup is never replaced.
 */
export class ObjectExistsError extends ConflictError {
  constructor(
    readonly key: string,
    location: string,
  ) {
    super(`${location} already holds ${key}; it is never replaced`, 'object_exists');
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

/** What a database error says about the database, as opposed to the statement: see DATABASE_UNAVAILABLE_CODES. */
export type DatabaseFailure = 'unavailable' | 'busy';

/**
 * Error codes that mean the database server, or this process's session on it, went away or cannot take a
 * session now: never a fault of the statement, so the request may be retried (HTTP 503 with Retry-After).
 * SQLSTATEs as PostgreSQL sends them (a two-character key stands for its whole class), and the socket errors
 * Node gives pg. Decided by code only; pg's own connection-loss errors carry no code, see
 * CONNECTION_LOST_MESSAGES.
 */
export const DATABASE_UNAVAILABLE_CODES: Readonly<Record<string, DatabaseFailure>> = {
  '08': 'unavailable', // class 08, connection_exception: every code in it
  '57P01': 'unavailable', // admin_shutdown: terminated by a shutdown or pg_terminate_backend
  '57P02': 'unavailable', // crash_shutdown: another backend crashed
  '57P03': 'unavailable', // cannot_connect_now: starting up, shutting down or in recovery
  '53300': 'busy', // too_many_connections: the server is up, at max_connections
  ECONNREFUSED: 'unavailable',
  ECONNRESET: 'unavailable',
  ETIMEDOUT: 'unavailable',
  EPIPE: 'unavailable',
  EHOSTUNREACH: 'unavailable',
  ENETUNREACH: 'unavailable',
  ENOTFOUND: 'unavailable', // the server's name does not resolve (now)
  EAI_AGAIN: 'unavailable',
};

/**
 * The messages of pg's (and knex's) errors for a connection that died or was never made, which carry no
 * code. knex puts the statement in front: `<sql> - Connection terminated unexpectedly`.
 */
const CONNECTION_LOST_MESSAGES = [
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'Client has encountered a connection error and is not queryable',
  'timeout expired', // pg's connectionTimeoutMillis ran out before the server answered
];

/**
 * knex's error for a connection its pool could not open or hand out in time: the server may be down, or
 * unreachable, or every connection of the pool busy. Unavailable for now, whichever it is.
 */
const KNEX_TIMEOUT_ERROR = 'KnexTimeoutError';

/** Errors that came from the control database (see markControlDatabaseError). */
const controlDatabaseErrors = new WeakSet<object>();

/**
 * Records that `error` came from the control database, so that its outage answers `catalog_unavailable`
 * rather than `database_unavailable` (a tenant's database). The control database's knex marks its errors.
 */
export function markControlDatabaseError(error: unknown): void {
  if (typeof error === 'object' && error !== null) controlDatabaseErrors.add(error);
}

/** The error and the causes it wraps, outermost first (a cycle or a deep chain ends the walk). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && chain.length < 8; ) {
    if (chain.includes(current)) break;
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** Whether one error (not its causes) means the database is unavailable or busy, by its code. */
function failureOf(error: unknown): DatabaseFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof code === 'string') {
    const failure =
      DATABASE_UNAVAILABLE_CODES[code] ??
      (/^[0-9A-Z]{5}$/.test(code) ? DATABASE_UNAVAILABLE_CODES[code.slice(0, 2)] : undefined);
    if (failure) return failure;
  }
  if (name === KNEX_TIMEOUT_ERROR) return 'unavailable';
  if (typeof message === 'string') {
    if (CONNECTION_LOST_MESSAGES.some((lost) => message === lost || message.endsWith(` - ${lost}`))) {
      return 'unavailable';
    }
  }
  // Node reports a refused connection to every address of a name as one AggregateError.
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    for (const each of errors) {
      const failure = failureOf(each);
      if (failure) return failure;
    }
  }
  return undefined;
}

/**
 * The 503 that `error` means when it (or an error it wraps as its cause) says the database or the
 * connection to it went away, or the server has no free connection slot; undefined for any other error.
 * The original error is kept as the cause. Codes: `database_unavailable` and `database_busy` for a tenant's
 * database (any database not marked as the control database), `catalog_unavailable` and `catalog_busy`
 * for the control database.
 */
export function databaseUnavailableError(error: unknown): UnavailableError | undefined {
  const chain = causeChain(error);
  let failure: DatabaseFailure | undefined;
  for (const link of chain) {
    failure = failureOf(link);
    if (failure) break;
  }
  if (!failure) return undefined;
  const catalog = chain.some(
    (link) => typeof link === 'object' && link !== null && controlDatabaseErrors.has(link),
  );
  const options = { cause: error, retryAfterSeconds: 1 };
  if (catalog) {
    return failure === 'busy'
      ? new UnavailableError('the control-plane catalog has no free connection', 'catalog_busy', options)
      : new UnavailableError('the control-plane catalog is unavailable', 'catalog_unavailable', options);
  }
  return failure === 'busy'
    ? new UnavailableError('the database server has no free connection slot', 'database_busy', options)
    : new UnavailableError(
        'the database is unreachable or dropped the connection',
        'database_unavailable',
        options,
      );
}
