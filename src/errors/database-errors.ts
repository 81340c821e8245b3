import { SQLSTATE } from './sqlstate.js';
import { TenantplaneError } from './tenantplane-error.js';

/** A TLS file named by a server's URL cannot be read on this instance, or its settings contradict. */
export class ServerTlsError extends TenantplaneError {
  constructor(message: string, cause?: unknown) {
    super('server_tls_config', 'unavailable', message, cause === undefined ? undefined : { cause });
  }
}

/** Another runner held the database's migration lock for longer than the lock timeout. */
export class MigrationLockTimeoutError extends TenantplaneError {
  constructor(waitedMs: number) {
    super(
      'migration_lock_timeout',
      'unavailable',
      `another runner held the migration lock for over ${waitedMs} ms`,
    );
  }
}

/** A migration failed; those before it in the same call stay applied and are listed. */
export class MigrationFailedError extends TenantplaneError {
  constructor(
    readonly migration: string | undefined,
    readonly applied: string[],
    cause: unknown,
  ) {
    super(
      'migration_failed',
      'internal',
      `migration ${migration ?? '(unknown)'} failed: ${rootMessage(cause)}`,
      {
        cause,
      },
    );
  }
}

/** umzug wraps a migration's error; operators want the database's own words. */
export function rootMessage(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  while (current?.cause instanceof Error) current = current.cause as typeof current;
  return current?.message ?? String(error);
}

/** A row whose tenant_id is not the tenant's, refused as PostgreSQL refuses it (insufficient_privilege). */
export class RowSecurityViolation extends Error {
  readonly code = SQLSTATE.insufficientPrivilege;
}

/** Setting the tenant, BEGIN or ROLLBACK failed: the connection's state is unknown, so it must not be reused. */
export class ConnectionStateError extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? 'connection state unknown', { cause });
  }
}

/** The `code` of ConnectionLostError, tenantplane's own, in the style of Node's socket error codes. */
export const CONNECTION_LOST = 'ECONNLOST';

/**
 * pg's error for a statement or a connect that failed because the connection itself died or was never made
 * (`Connection terminated unexpectedly`, `timeout expired`, `Client has encountered a connection error and
 * is not queryable`), which carries no code of its own: this gives it one. Raised only by the clients of
 * src/postgres/connection-loss.ts, which know their connection is gone; the message is pg's, the original
 * is the cause.
 */
export class ConnectionLostError extends Error {
  readonly code = CONNECTION_LOST;
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? 'the connection to the database was lost', { cause });
  }
}

/** The server's credentials could not be read (from the catalog). */
export class CredentialsError extends Error {
  constructor(cause: unknown) {
    super('could not read the server credentials', { cause });
  }
}
