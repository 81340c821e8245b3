import type { JWK } from 'jose';
import { JwksClient, JwksError, JwksRateLimitError, SigningKeyNotFoundError } from 'jwks-rsa';
import { ProviderUnreachableError, UnauthenticatedError, UnavailableError } from '../errors/index.js';
import { type KeySource, unusableKeyReason } from './key-source.js';

export interface RemoteKeySourceOptions {
  jwksUrl: string;
  keyCacheMaxAgeMs: number;
  staleKeyMaxAgeMs: number;
  jwksRequestsPerMinute: number;
  jwksTimeoutMs: number;
}

interface KnownKey {
  jwk: JWK;
  /** When the provider last listed this key (ms since epoch). */
  fetchedAt: number;
}

/** jwks-rsa keeps one cache entry per kid; a provider rarely publishes more than a handful of keys. */
const KEY_CACHE_ENTRIES = 20;

/**
 * Keys from the identity provider's JWKS endpoint. jwks-rsa does the caching (per kid, for
 * keyCacheMaxAgeMs) and rate-limits refetches, which a stream of tokens with made-up kids would
 * otherwise turn into a flood against the provider. On top of that we keep the last key set the
 * provider actually served, so that an outage of the provider does not lock every caller out at once.
 */
export function createRemoteKeySource(options: RemoteKeySourceOptions): KeySource {
  const { keyCacheMaxAgeMs, staleKeyMaxAgeMs, jwksTimeoutMs } = options;

  // Replaced wholesale on every successful fetch, so a key the provider withdrew (rotated out, or
  // revoked after a compromise) is forgotten at once and cannot be revived by a later outage.
  let lastKnownGood = new Map<string, KnownKey>();

  async function fetchKeySet(url: string): Promise<{ keys: JWK[] }> {
    let status: number;
    let body: unknown;
    try {
      // AbortSignal.timeout bounds the whole exchange, body included, not just an idle socket.
      const signal = AbortSignal.timeout(jwksTimeoutMs);
      const response = await fetch(url, { signal, headers: { accept: 'application/json' } });
      status = response.status;
      // An unread error body would hold the connection; we never need it.
      body = response.ok ? await response.json() : await response.body?.cancel();
    } catch (error) {
      throw new ProviderUnreachableError('could not fetch the JWKS', { cause: error });
    }
    if (status < 200 || status > 299) {
      throw new ProviderUnreachableError(`the JWKS endpoint answered HTTP ${status}`);
    }
    const keys = (body as { keys?: unknown } | null | undefined)?.keys;
    if (!Array.isArray(keys)) {
      throw new ProviderUnreachableError('the JWKS endpoint answered without a "keys" array');
    }

    const usable = keys.filter((jwk): jwk is JWK => unusableKeyReason(jwk) === undefined);
    const fetchedAt = Date.now();
    lastKnownGood = new Map(usable.map((jwk) => [jwk.kid!, { jwk, fetchedAt }]));
    return { keys: usable };
  }

  const client = new JwksClient({
    jwksUri: options.jwksUrl,
    // Our own fetcher, so we see every real fetch (for lastKnownGood) and can tell an unreachable
    // provider from an answer that lacks the kid.
    fetcher: fetchKeySet,
    cache: true,
    cacheMaxAge: keyCacheMaxAgeMs,
    cacheMaxEntries: KEY_CACHE_ENTRIES,
    rateLimit: true,
    jwksRequestsPerMinute: options.jwksRequestsPerMinute,
  });

  function unknownKey(cause: unknown): UnauthenticatedError {
    return new UnauthenticatedError('token is signed by an unknown key', 'invalid_token', cause);
  }

  /** The provider could not be asked: a key it listed recently enough keeps working. */
  function fallBack(kid: string, error: unknown): JWK {
    const known = lastKnownGood.get(kid);
    if (known !== undefined && Date.now() < known.fetchedAt + keyCacheMaxAgeMs + staleKeyMaxAgeMs) {
      return known.jwk;
    }
    // Refetches are rate-limited because of made-up kids; one the provider never listed is the
    // token's problem, not an outage.
    if (error instanceof JwksRateLimitError && known === undefined) throw unknownKey(error);
    throw new UnavailableError('the identity provider is unavailable', 'auth_provider_unavailable', {
      cause: error,
    });
  }

  return {
    async getKey(kid) {
      try {
        await client.getSigningKey(kid);
      } catch (error) {
        // The provider answered and the kid is not there (or it publishes no usable key at all).
        if (error instanceof SigningKeyNotFoundError || error instanceof JwksError) throw unknownKey(error);
        // Unreachable, rate-limited, or anything unforeseen: never a 401 for something that is not
        // the token's fault.
        return fallBack(kid, error);
      }
      // jwks-rsa may answer from its per-kid cache; lastKnownGood reflects the latest key set, so a
      // key withdrawn since then is refused even while jwks-rsa still remembers it.
      const known = lastKnownGood.get(kid);
      if (known === undefined) throw unknownKey(undefined);
      return known.jwk;
    },
    current(kid) {
      const known = lastKnownGood.get(kid);
      return known !== undefined && Date.now() < known.fetchedAt + keyCacheMaxAgeMs ? known.jwk : undefined;
    },
  };
}
