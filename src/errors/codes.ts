/**
 * Every `code` tenantplane answers with, by the family that decides its HTTP status (see
 * src/http/error-status.ts). Error constructors take an ErrorCode, so a misspelt code fails type-checking;
 * operators and applications match these, never the message text.
 */
export type ErrorCode =
  | InvalidInputCode
  | UnauthenticatedCode
  | ForbiddenCode
  | NotFoundCode
  | ConflictCode
  | GoneCode
  | UnprocessableCode
  | RateLimitedCode
  | InternalCode
  | BadGatewayCode
  | UnavailableCode
  | AnswerCode;

/** 400 (CLI exit 2): the caller's input failed validation. */
export type InvalidInputCode =
  | 'invalid_input'
  | 'confirmation_required'
  | 'empty_update'
  | 'insufficient_privileges'
  | 'invalid_backup_id'
  | 'invalid_body'
  | 'invalid_cursor'
  | 'invalid_duration'
  | 'invalid_field'
  | 'invalid_filter'
  | 'invalid_id'
  | 'invalid_idempotency_key'
  | 'invalid_limit'
  | 'invalid_migration'
  | 'invalid_name'
  | 'invalid_object_key'
  | 'invalid_query'
  | 'invalid_quota'
  | 'invalid_region'
  | 'invalid_url'
  | 'irreversible_migration'
  | 'missing_field'
  | 'missing_tier'
  | 'region_mismatch'
  | 'unknown_field'
  | 'unknown_migration'
  | 'unknown_region'
  | 'unknown_target'
  | 'unknown_tier';

/** 401: no token, or one that does not verify. */
export type UnauthenticatedCode =
  | 'unauthenticated'
  | 'invalid_token'
  | 'metrics_token_required'
  | 'missing_token'
  | 'token_expired';

/** 403: the token is valid, the action is not allowed (or past a quota). */
export type ForbiddenCode =
  | 'forbidden'
  | 'insufficient_scope'
  | 'quota_exceeded'
  | 'read_only_role'
  | 'tenant_mismatch'
  | 'tenant_required'
  | 'tenant_suspended'
  | 'tenant_unavailable'
  | 'unknown_tenant_role';

/** 404: no such thing, or another tenant's. */
export type NotFoundCode =
  | 'not_found'
  | 'backup_not_found'
  | 'job_not_found'
  | 'not_in_schema'
  | 'route_not_found'
  | 'schedule_not_found'
  | 'server_not_found'
  | 'tenant_not_found'
  | 'unknown_tier';

/** 409: the request conflicts with the current state. */
export type ConflictCode =
  | 'conflict'
  | 'backup_not_complete'
  | 'backup_schema_mismatch'
  | 'database_exists'
  | 'database_not_ready'
  | 'idempotency_key_reused'
  | 'insufficient_privileges'
  | 'invalid_status_change'
  | 'kms_key_unusable'
  | 'move_cleanup_failed'
  | 'move_in_progress'
  | 'move_stuck'
  | 'move_unfinished'
  | 'no_server'
  | 'no_shard'
  | 'object_exists'
  | 'operation_in_progress'
  | 'placement_move_required'
  | 'request_race'
  | 'restore_ids_collide'
  | 'schema_mismatch'
  | 'server_draining'
  | 'server_exists'
  | 'server_in_recovery'
  | 'server_mismatch'
  | 'tenant_changed'
  | 'tenant_exists'
  | 'tenant_not_placed';

/** 410: gone for good. */
export type GoneCode = 'tenant_key_destroyed';

/** 422: a stored thing cannot be used as it is. */
export type UnprocessableCode = 'backup_corrupt' | 'key_unwrap_failed';

/** 429: past the tenant's request rate. */
export type RateLimitedCode = 'rate_limited';

/** 500: a failure of tenantplane's own, or of its configuration. */
export type InternalCode = 'invalid_config' | 'job_failed' | 'migration_failed';

/** 502: a service tenantplane depends on refused. */
export type BadGatewayCode = 'kms_failed';

/** 503 (with Retry-After where known): a dependency is down or busy; the request may be retried. */
export type UnavailableCode =
  | 'unavailable'
  | 'auth_provider_unavailable'
  | 'catalog_busy'
  | 'catalog_unavailable'
  | 'database_busy'
  | 'database_unavailable'
  | 'kms_unavailable'
  | 'migration_lock_timeout'
  | 'move_confirmation_timeout'
  | 'move_drain_timeout'
  | 'move_lock_lost'
  | 'pool_exhausted'
  | 'redis_unreachable'
  | 'server_tls_config'
  | 'server_unreachable'
  | 'shutting_down'
  | 'storage_unavailable'
  | 'tenant_moved'
  | 'tenant_moving';

/**
 * Answered for an error that is not a TenantplaneError: by the HTTP error handler for a request body it
 * could not read (400, 413) or any other error (500), by the CLI for any other error (exit 1).
 */
export type AnswerCode = 'invalid_json' | 'body_too_large' | 'internal_error' | 'failed';

/** The families of errors; each has one HTTP status, in src/http/error-status.ts. */
export type ErrorFamily =
  | 'invalid_input'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'too_large'
  | 'unprocessable'
  | 'rate_limited'
  | 'internal'
  | 'bad_gateway'
  | 'unavailable';
