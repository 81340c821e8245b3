import type { JWTPayload } from 'jose';
import { UnauthenticatedError } from '../errors/index.js';
import { isSlug } from '../ids.js';
import { ADMIN_SCOPE, type Principal } from './principal.js';

function invalid(message: string): UnauthenticatedError {
  return new UnauthenticatedError(message, 'invalid_token');
}

/**
 * Providers disagree on the shape: OAuth's `scope` is a space-separated string, Okta's `scp` an array,
 * Entra ID's `scp` a string. Accept both shapes in both claims; anything else is a malformed token.
 */
function readScopes(claims: JWTPayload): string[] {
  const scopes = new Set<string>();
  for (const name of ['scope', 'scp']) {
    const value = claims[name];
    if (value === undefined) continue;
    const parts = typeof value === 'string' ? value.split(' ') : value;
    if (!Array.isArray(parts) || !parts.every((part) => typeof part === 'string')) {
      throw invalid(`token "${name}" claim is neither a string nor an array of strings`);
    }
    for (const part of parts) if (part !== '') scopes.add(part);
  }
  return [...scopes];
}

/** Turns the claims of a token whose signature and timing were already checked into a Principal. */
export function principalFromClaims(claims: JWTPayload): Principal {
  if (claims.sub !== undefined && typeof claims.sub !== 'string') {
    throw invalid('token "sub" claim is not a string');
  }

  const tenantId = claims['tenant_id'];
  // The tenant id ends up in routing and SQL identifiers, so it must be a slug before anything uses it.
  if (tenantId !== undefined && !isSlug(tenantId)) {
    throw invalid('token "tenant_id" claim is not a valid tenant id');
  }

  const scopes = readScopes(claims);
  const isAdmin = scopes.includes(ADMIN_SCOPE);
  // Such a token authorizes nothing; refusing it here beats every route having to remember the case.
  if (tenantId === undefined && !isAdmin) {
    throw invalid('token carries neither a "tenant_id" nor the admin scope');
  }

  return { subject: claims.sub, tenantId, scopes, isAdmin, claims };
}
