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

/** The server's credentials could not be read (from the catalog). */
export class CredentialsError extends Error {
  constructor(cause: unknown) {
    super('could not read the server credentials', { cause });
  }
}
