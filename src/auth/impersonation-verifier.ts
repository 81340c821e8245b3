import { decodeJwt, decodeProtectedHeader } from 'jose';
import { UnavailableError } from '../errors/index.js';
import { IMPERSONATION_ISSUER } from './impersonation-issuer.js';
import type { ImpersonationKeyRing } from './impersonation-keys.js';
import type { TokenVerifier } from './principal.js';
import { createTokenVerifier } from './token-verifier.js';

/** What an unverified token claims: only which verifier checks it, never whether it is accepted. */
function claimed(token: string): { issuer?: unknown; kid?: unknown } {
  try {
    return { issuer: decodeJwt(token).iss, kid: decodeProtectedHeader(token).kid };
  } catch {
    return {};
  }
}

/**
 * Accepts the provider's tokens (checked by `provider`) and tenantplane's impersonation tokens, checked
 * against the keys `ring` holds right now: a token is checked only against the keys of the issuer its
 * `iss` names, so neither can sign for the other. The impersonation verifier is rebuilt whenever the key
 * set changes, so a retired key's tokens, remembered verifications included, are refused from then on. A
 * token naming a kid the ring does not hold waits for the ring to re-read the catalog (rate-limited there)
 * before it is judged: another process may have signed it with a key added a moment ago.
 */
export function withImpersonationTokens(
  provider: TokenVerifier,
  ring: ImpersonationKeyRing,
  options: { audience: string; verifiedTokenCacheSize?: number },
): TokenVerifier {
  let built: { version: number; verifier: TokenVerifier } | undefined;
  const impersonationVerifier = (): TokenVerifier => {
    if (built?.version !== ring.version) {
      built = {
        version: ring.version,
        verifier: createTokenVerifier({
          issuer: IMPERSONATION_ISSUER,
          audience: options.audience,
          keys: { jwks: ring.jwks() },
          algorithms: ['ES256'],
          verifiedTokenCacheSize: options.verifiedTokenCacheSize,
        }),
      };
    }
    return built.verifier;
  };
  return {
    async verify(token) {
      const { issuer, kid } = claimed(token);
      if (issuer !== IMPERSONATION_ISSUER) return provider.verify(token);
      if (typeof kid === 'string' && kid !== '' && kid.length <= 256 && ring.current(kid) === undefined) {
        try {
          await ring.reloadForUnknownKid();
        } catch (error) {
          throw new UnavailableError('the impersonation keys cannot be read right now', 'unavailable', {
            cause: error,
          });
        }
      }
      return impersonationVerifier().verify(token);
    },
  };
}
