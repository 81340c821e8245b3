import type { JWK } from 'jose';

/** Where the verifier looks up the public key a token names in its `kid` header. */
export interface KeySource {
  /**
   * Resolves to the public JWK for `kid`. Throws UnauthenticatedError (401) when the key is unknown,
   * UnavailableError (503) when the keys cannot be fetched right now.
   */
  getKey(kid: string): Promise<JWK>;
  /**
   * The key trusted for `kid` right now, without fetching: undefined when unknown or due for a refetch.
   * A cached verification stays valid only while this returns the very key object that verified it.
   */
  current(kid: string): JWK | undefined;
}

/** Members that only private or symmetric keys have; such a key must never be used as a trust anchor. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/**
 * Says why a JWK cannot serve to verify tokens, or returns undefined when it can. Shared by the local and
 * remote key sources so both trust exactly the same kind of key.
 */
export function unusableKeyReason(candidate: unknown): string | undefined {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) {
    return 'is not an object';
  }
  const jwk = candidate as Record<string, unknown>;
  if (typeof jwk.kid !== 'string' || jwk.kid === '') return 'has no "kid"';
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') return 'is neither an RSA nor an EC key';
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'is not a signing key ("use" is not "sig")';
  if (SECRET_MEMBERS.some((member) => member in jwk)) return 'contains private key material';
  return undefined;
}
