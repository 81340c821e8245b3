/**
 * The SQLSTATEs tenantplane decides by, by their PostgreSQL names (Appendix A of its manual). Compare a
 * database error's `code` with these, never with a literal.
 */
export const SQLSTATE = {
  /** 23505: a unique index already holds the key. */
  uniqueViolation: '23505',
  /** 28000: the server refused the role (pg_hba.conf, no such role). */
  invalidAuthorizationSpecification: '28000',
  /** 28P01: the password was wrong. */
  invalidPassword: '28P01',
  /** 42501: the role lacks a privilege (or row-level security refused a row). */
  insufficientPrivilege: '42501',
  /** 42P01: no such table. */
  undefinedTable: '42P01',
  /** 42P04: the database exists already. */
  duplicateDatabase: '42P04',
  /** 42704: no such object (e.g. a setting the server's version lacks). */
  undefinedObject: '42704',
  /** 53300: the server is at max_connections. */
  tooManyConnections: '53300',
  /** 55P03: a lock could not be had within lock_timeout (or NOWAIT). */
  lockNotAvailable: '55P03',
  /** 57P01: the session was ended by a shutdown or pg_terminate_backend. */
  adminShutdown: '57P01',
  /** 57P02: another backend crashed and the server reset every session. */
  crashShutdown: '57P02',
  /** 57P03: the server is starting up, shutting down or in recovery. */
  cannotConnectNow: '57P03',
} as const;

/** The classes of SQLSTATE (their first two characters) tenantplane decides by. */
export const SQLSTATE_CLASS = {
  /** 08: the connection failed or was lost. */
  connectionException: '08',
  /** 57: an operator or the server ended the session. */
  operatorIntervention: '57',
  /** XX: the server's own failure (data corruption, an internal error). */
  internalError: 'XX',
} as const;

export type SqlState = (typeof SQLSTATE)[keyof typeof SQLSTATE];

/** Whether `code` has the form of a SQLSTATE (five digits or capitals), as opposed to e.g. a socket error's. */
export function isSqlState(code: unknown): code is string {
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** The SQLSTATE of a database error, if it carries one. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return isSqlState(code) ? code : undefined;
}
