import { ConflictError, TenantplaneError } from './tenantplane-error.js';

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

/** The backup cannot be trusted: tampered, truncated, reordered, or not the backup it claims to be. */
export class BackupIntegrityError extends TenantplaneError {
  constructor(message: string, cause?: unknown) {
    super('backup_corrupt', 'unprocessable', message, { cause });
  }
}

/** A wrapped key that does not open: wrong master key, or a context other than the one it was made for. */
export class KeyUnwrapError extends TenantplaneError {
  constructor(message: string, cause?: unknown) {
    super('key_unwrap_failed', 'unprocessable', message, { cause });
  }
}

/** The tenant's backup key was destroyed on purpose: its backups can never be decrypted again. */
export class TenantKeyDestroyedError extends TenantplaneError {
  constructor(tenantId: string) {
    super(
      'tenant_key_destroyed',
      'gone',
      `the backup key of tenant ${tenantId} was destroyed; its backups can no longer be decrypted`,
    );
  }
}

/** Thrown when a backup was taken at a schema the target does not have (newer, or diverged). */
export class BackupSchemaError extends ConflictError {
  constructor(message: string) {
    super(message, 'backup_schema_mismatch');
  }
}
