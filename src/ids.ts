import { InvalidInputError } from './errors/index.js';

/** The contract's slug: lowercase, starts with a letter, 3 to 40 characters, no trailing hyphen. */
export const SLUG_PATTERN = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;

/** Checks a tenant, server or shard id before it gets anywhere near SQL. */
export function assertSlug(value: unknown, what = 'tenant id'): string {
  if (typeof value !== 'string' || !SLUG_PATTERN.test(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value;
    throw new InvalidInputError(
      `invalid ${what} ${shown}: use 3-40 characters a-z, 0-9 and '-', starting with a letter and not ending with '-'`,
      'invalid_id',
    );
  }
  return value;
}

export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG_PATTERN.test(value);
}

/** A database name prefix keeps several catalogs (or test runs) apart on one PostgreSQL server. */
export const DATABASE_PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,11}$/;

/**
 * Slugs never contain '_', so swapping '-' for '_' is one-to-one and the result needs no quoting in psql.
 * The longest result (12 + 3 + 40 characters) stays under PostgreSQL's 63-byte identifier limit, so no
 * two tenants can ever share a truncated name.
 */
export function dedicatedDatabaseName(prefix: string, tenantId: string): string {
  return `${prefix}_t_${assertSlug(tenantId).replaceAll('-', '_')}`;
}

export function shardDatabaseName(prefix: string, shardId: string): string {
  return `${prefix}_s_${assertSlug(shardId, 'shard id').replaceAll('-', '_')}`;
}

export function appRoleName(prefix: string, serverId: string): string {
  return `${prefix}_app_${assertSlug(serverId, 'server id').replaceAll('-', '_')}`;
}

const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quotes an identifier we derived ourselves; anything unexpected is a bug, so it throws. */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER_PATTERN.test(name))
    throw new InvalidInputError(`refusing unsafe identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}
