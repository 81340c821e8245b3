/**
 * tenantplane's errors, in one place: the base class and its families, the domain errors, the codes they
 * carry (ErrorCode) and the SQLSTATEs tenantplane decides by. HTTP statuses come from
 * src/http/error-status.ts, the error handler's table.
 */
export { ProviderUnreachableError } from './auth-errors.js';
export {
  BackupIntegrityError,
  BackupSchemaError,
  KeyUnwrapError,
  ObjectExistsError,
  TenantKeyDestroyedError,
} from './backup-errors.js';
export type * from './codes.js';
export {
  CONNECTION_LOST,
  ConnectionLostError,
  ConnectionStateError,
  CredentialsError,
  MigrationFailedError,
  MigrationLockTimeoutError,
  RowSecurityViolation,
  rootMessage,
  ServerTlsError,
} from './database-errors.js';
export {
  DATABASE_UNAVAILABLE_CODES,
  type DatabaseFailure,
  databaseUnavailableError,
  markControlDatabaseError,
} from './database-unavailable.js';
export { InvalidFieldError, InvalidQuotaError, UnknownFieldError } from './input-errors.js';
export { isSqlState, SQLSTATE, SQLSTATE_CLASS, type SqlState, sqlStateOf } from './sqlstate.js';
export {
  ConfigError,
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
  TenantplaneError,
  UnauthenticatedError,
  UnavailableError,
} from './tenantplane-error.js';
