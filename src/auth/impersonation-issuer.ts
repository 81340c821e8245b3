import { randomUUID } from 'node:crypto';
import { decodeJwt, type JSONWebKeySet } from 'jose';
import type { DevIssuer } from './dev-issuer.js';
import type { ImpersonationKeyRing } from './impersonation-keys.js';
import { signToken } from './sign-token.js';

/** `iss` of impersonation tokens when an external identity provider issues every other token. */
export const IMPERSONATION_ISSUER = 'tenantplane-impersonation';
/** The longest an impersonation token lives, in seconds (15 minutes). */
export const IMPERSONATION_MAX_SECONDS = 15 * 60;

/** A minted impersonation token. */
export interface ImpersonationGrant {
  token: string;
  expiresAt: Date;
  /** The token's `jti`: each request made with it is audited under this id. */
  jti: string;
}

/**
 * Mints read-only tenant tokens for an operator: `tenant_id`, `tenant_role: viewer`, `act: {sub:
 * <operator>}` (RFC 8693), a `jti`, and `sub: tenant:<id>` (the token acts for the tenant, not for one of
 * its users), valid for IMPERSONATION_MAX_SECONDS.
 */
export interface ImpersonationIssuer {
  /** The `iss` of its tokens. */
  readonly issuer: string;
  /** The `aud` of its tokens. */
  readonly audience: string;
  mint(tenantId: string, operator: string): Promise<ImpersonationGrant>;
  /** The public keys its tokens verify with. */
  jwks(): JSONWebKeySet;
}

function grant(token: string, jti: string): ImpersonationGrant {
  return { token, jti, expiresAt: new Date((decodeJwt(token).exp as number) * 1000) };
}

/** In development, the development issuer signs impersonation tokens like every other token. */
export function devImpersonationIssuer(dev: DevIssuer): ImpersonationIssuer {
  return {
    issuer: dev.issuer,
    audience: dev.audience,
    async mint(tenantId, operator) {
      const jti = randomUUID();
      const token = await dev.mint({
        tenantId,
        tenantRole: 'viewer',
        actor: operator,
        subject: `tenant:${tenantId}`,
        jwtId: jti,
        expiresInSeconds: IMPERSONATION_MAX_SECONDS,
      });
      return grant(token, jti);
    },
    jwks: () => dev.jwks(),
  };
}

/**
 * With an external identity provider, tenantplane cannot have it sign tokens for an operator: it signs
 * them with its own key from the catalog, under its own `iss` and the provider's audience, and publishes
 * the public keys for applications to trust beside the provider's: the newest key signs, and keys a
 * rotation replaced stay published while tokens they signed may still be in use (see impersonation-keys.ts).
 */
export function keyImpersonationIssuer(keys: ImpersonationKeyRing, audience: string): ImpersonationIssuer {
  return {
    issuer: IMPERSONATION_ISSUER,
    audience,
    async mint(tenantId, operator) {
      const jti = randomUUID();
      const token = await signToken(await keys.signingKey(), {
        issuer: IMPERSONATION_ISSUER,
        audience,
        subject: `tenant:${tenantId}`,
        expiresInSeconds: IMPERSONATION_MAX_SECONDS,
        claims: { tenant_id: tenantId, tenant_role: 'viewer', act: { sub: operator }, jti },
      });
      return grant(token, jti);
    },
    jwks: () => keys.jwks(),
  };
}
