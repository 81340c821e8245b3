import type { JWTPayload } from 'jose';
import { UnauthenticatedError } from '../errors/index.js';
import { isSlug } from '../ids.js';
import { adminScopesOf } from './admin-scopes.js';
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

/** RFC 8693's actor claim: `{sub}` of whoever acts through the token, here an operator impersonating. */
function readActor(claims: JWTPayload): string | undefined {
  const act = claims['act'];
  if (act === undefined) return undefined;
  const sub = (act as { sub?: unknown } | null)?.sub;
  if (typeof act !== 'object' || act === null || typeof sub !== 'string' || sub === '') {
    throw invalid('token "act" claim is not an object with a "sub"');
  }
  return sub;
}

/** The caller's role in its tenant; its value is checked by the application API (see tenant-role.ts). */
function readTenantRole(claims: JWTPayload): string {
  const role = claims['tenant_role'];
  if (role === undefined) return 'member';
  if (typeof role !== 'string') throw invalid('token "tenant_role" claim is not a string');
  return role;
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
  // Such a token authorizes nothing; refusing it here beats every route having to remember the case.
  if (tenantId === undefined && adminScopesOf(scopes).length === 0) {
    throw invalid('token carries neither a "tenant_id" nor an admin scope');
  }

  return {
    subject: claims.sub,
    tenantId,
    scopes,
    isAdmin: scopes.includes(ADMIN_SCOPE),
    tenantRole: readTenantRole(claims),
    actor: readActor(claims),
    claims,
  };
}
