import type { CryptoKey, JWTPayload } from 'jose';
import { SignJWT } from 'jose';

/** A private key tenantplane signs tokens with (ES256), named by its `kid`. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

export interface TokenFields {
  issuer: string;
  audience: string;
  subject: string;
  /** Lifetime in seconds from now. */
  expiresInSeconds: number;
  /** Further claims (`tenant_id`, `scope`, `act`, ...). */
  claims: JWTPayload;
}

/** Signs a JWT with `key`; `iat` and `exp` are whole seconds, as verifiers expect. */
export function signToken(key: SigningKey, fields: TokenFields): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(fields.claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(fields.issuer)
    .setAudience(fields.audience)
    .setSubject(fields.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + fields.expiresInSeconds)
    .sign(key.privateKey);
}
