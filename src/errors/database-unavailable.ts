import { CONNECTION_LOST } from './database-errors.js';
import { isSqlState, SQLSTATE, SQLSTATE_CLASS } from './sqlstate.js';
import { UnavailableError } from './tenantplane-error.js';

/** What a database error says about the database, as opposed to the statement: see DATABASE_UNAVAILABLE_CODES. */
export type DatabaseFailure = 'unavailable' | 'busy';

/**
 * Error codes that mean the database server, or this process's session on it, went away or cannot take a
 * session now: never a fault of the statement, so the request may be retried (HTTP 503 with Retry-After).
 * SQLSTATEs from the SQLSTATE table (a SQLSTATE_CLASS key stands for its whole class), the socket errors
 * Node gives pg, and our own CONNECTION_LOST. Decided by code only: pg's own errors for a connection that
 * died carry no code, so the clients that meet them (src/postgres/connection-loss.ts) raise them as
 * ConnectionLostError, whose code is CONNECTION_LOST; nothing here reads message text.
 */
export const DATABASE_UNAVAILABLE_CODES: Readonly<Record<string, DatabaseFailure>> = {
  [SQLSTATE_CLASS.connectionException]: 'unavailable', // every code of the class
  [SQLSTATE.adminShutdown]: 'unavailable', // terminated by a shutdown or pg_terminate_backend
  [SQLSTATE.crashShutdown]: 'unavailable', // another backend crashed
  [SQLSTATE.cannotConnectNow]: 'unavailable', // starting up, shutting down or in recovery
  [SQLSTATE.tooManyConnections]: 'busy', // the server is up, at max_connections
  ECONNREFUSED: 'unavailable',
  ECONNRESET: 'unavailable',
  ETIMEDOUT: 'unavailable',
  EPIPE: 'unavailable',
  EHOSTUNREACH: 'unavailable',
  ENETUNREACH: 'unavailable',
  ENOTFOUND: 'unavailable', // the server's name does not resolve (now)
  EAI_AGAIN: 'unavailable',
  [CONNECTION_LOST]: 'unavailable', // pg's codeless errors of a lost connection, see ConnectionLostError
};

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
  const { code, name } = error as { code?: unknown; name?: unknown };
  if (typeof code === 'string') {
    const failure =
      DATABASE_UNAVAILABLE_CODES[code] ??
      (isSqlState(code) ? DATABASE_UNAVAILABLE_CODES[code.slice(0, 2)] : undefined);
    if (failure) return failure;
  }
  if (name === KNEX_TIMEOUT_ERROR) return 'unavailable';
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
