import type { JSONWebKeySet, JWK } from 'jose';
import { UnauthenticatedError } from '../errors/index.js';
import { type KeySource, unusableKeyReason } from './key-source.js';

/**
 * Keys handed over in memory (the development issuer's). Checked once here, so a bad key set fails at
 * start-up with a TypeError instead of turning every request into a 401.
 */
export function createLocalKeySource(jwks: JSONWebKeySet): KeySource {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new TypeError('keys.jwks must be a JSON Web Key Set with at least one key');
  }
  const byKid = new Map<string, JWK>();
  jwks.keys.forEach((jwk, index) => {
    const reason = unusableKeyReason(jwk);
    if (reason !== undefined) throw new TypeError(`keys.jwks.keys[${index}] ${reason}`);
    if (byKid.has(jwk.kid!)) {
      throw new TypeError(`keys.jwks has two keys with kid ${JSON.stringify(jwk.kid)}`);
    }
    // A private copy: the caller mutating its key set later must not change what we trust.
    byKid.set(jwk.kid!, structuredClone(jwk));
  });

  return {
    async getKey(kid) {
      const jwk = byKid.get(kid);
      if (jwk === undefined) {
        throw new UnauthenticatedError('token is signed by an unknown key', 'invalid_token');
      }
      return jwk;
    },
    current(kid) {
      return byKid.get(kid);
    },
  };
}
