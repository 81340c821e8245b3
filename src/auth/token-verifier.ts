import {
  base64url,
  type CryptoKey,
  errors,
  type FlattenedJWSInput,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { TenantplaneError, UnauthenticatedError } from '../errors/index.js';
import { principalFromClaims } from './claims-principal.js';
import type { KeySource } from './key-source.js';
import { createLocalKeySource } from './local-key-source.js';
import type { Principal, TokenVerifier } from './principal.js';
import { createRemoteKeySource } from './remote-key-source.js';

/** The only signature algorithms we accept: asymmetric, so holding the public key never lets anyone sign. */
export type TokenAlgorithm = 'RS256' | 'ES256';
const SUPPORTED_ALGORITHMS: readonly string[] = ['RS256', 'ES256'];

export interface TokenVerifierOptions {
  /** Expected `iss` claim, compared exactly. Required. */
  issuer: string;
  /** Expected `aud` claim (a token whose `aud` array contains it also passes). Required. */
  audience: string;
  /**
   * Where the public keys come from: `{ jwksUrl }` for a remote identity provider (https, or plain http
   * to a loopback host only), or `{ jwks }` for keys held in memory (the development issuer).
   */
  keys: { jwksUrl: string } | { jwks: JSONWebKeySet };
  /**
   * Further issuers whose tokens are accepted, each with its own keys: held in memory (`jwks`), or a key
   * source whose keys may change (tenantplane's impersonation keys beside an identity provider, which
   * rotate). A token is checked only against the keys of the issuer its `iss` names, so no issuer can sign
   * for another. Default none.
   */
  otherIssuers?: ReadonlyArray<{ issuer: string } & ({ jwks: JSONWebKeySet } | { keys: KeySource })>;
  /** Allowed clock skew, in seconds, when checking `exp` and `nbf`. Default 30. */
  clockToleranceSeconds?: number;
  /** Accepted `alg` header values; only RS256 and ES256 may be listed. Default ['RS256', 'ES256']. */
  algorithms?: readonly TokenAlgorithm[];
  /**
   * How long, in milliseconds, a fetched key is trusted without asking the provider again.
   * Default 600000 (10 minutes).
   */
  keyCacheMaxAgeMs?: number;
  /**
   * How long, in milliseconds, a key keeps working past keyCacheMaxAgeMs while the provider cannot be
   * reached: a key the provider last listed more than keyCacheMaxAgeMs + staleKeyMaxAgeMs ago gives 503
   * during an outage. Default 3600000 (1 hour).
   */
  staleKeyMaxAgeMs?: number;
  /** Most JWKS fetches per minute caused by unknown kids or expired cache entries. Default 10. */
  jwksRequestsPerMinute?: number;
  /** Time limit, in milliseconds, for one JWKS fetch, body included. Default 3000. */
  jwksTimeoutMs?: number;
  /**
   * Verified tokens remembered, so a client reusing its token is not re-verified on every request.
   * 0 turns the cache off. Default 10000.
   */
  verifiedTokenCacheSize?: number;
  /**
   * How long a verification is remembered, in milliseconds; never past the token's `exp`, and dropped as
   * soon as the key that verified it is withdrawn or due for a refetch. Default 30000.
   */
  verifiedTokenCacheMs?: number;
}

const DEFAULT_ALGORITHMS: readonly TokenAlgorithm[] = ['RS256', 'ES256'];
const DEFAULTS = {
  clockToleranceSeconds: 30,
  keyCacheMaxAgeMs: 10 * 60 * 1000,
  staleKeyMaxAgeMs: 60 * 60 * 1000,
  jwksRequestsPerMinute: 10,
  jwksTimeoutMs: 3000,
  verifiedTokenCacheSize: 10000,
  verifiedTokenCacheMs: 30000,
};

/** Longer than any real token; keeps junk from reaching the JSON and base64 decoders. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** A kid becomes a cache key and, when unknown, a reason to refetch: keep it to a sane size. */
const MAX_KID_LENGTH = 256;

function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${name} must be a non-empty string`);
  }
  return value;
}

type NumberOptionName = keyof typeof DEFAULTS;

/** Reads a numeric option, falling back to its default; `minimum` and `integer` say what is sane. */
function numberOption(
  options: TokenVerifierOptions,
  name: NumberOptionName,
  minimum: number,
  integer = false,
): number {
  const value: unknown = options[name];
  if (value === undefined) return DEFAULTS[name];
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < minimum ||
    (integer && !Number.isInteger(value))
  ) {
    throw new TypeError(
      `${name} must be ${integer ? 'an integer' : 'a finite number'} of at least ${minimum}`,
    );
  }
  return value;
}

function algorithmsOption(value: unknown): TokenAlgorithm[] {
  if (value === undefined) return [...DEFAULT_ALGORITHMS];
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError('algorithms must be a non-empty array');
  }
  for (const alg of value) {
    if (!SUPPORTED_ALGORITHMS.includes(alg)) {
      throw new TypeError(
        `algorithms may only contain ${SUPPORTED_ALGORITHMS.join(' and ')}, not ${JSON.stringify(alg)}`,
      );
    }
  }
  return [...new Set(value as TokenAlgorithm[])];
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Whoever can change the key set in transit can mint any token, so plain http is for local use only. */
function jwksUrlOption(value: unknown): string {
  const text = requireString('keys.jwksUrl', value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError('keys.jwksUrl must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new TypeError('keys.jwksUrl must use https (plain http only to a loopback host)');
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError('keys.jwksUrl must not contain credentials');
  }
  return url.href;
}

/** Refuses tokens whose `alg` does not fit the key, whatever the key set or the token claims. */
function keyFitsAlgorithm(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (alg === 'RS256') return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  return false;
}

function invalid(message: string, cause?: unknown): UnauthenticatedError {
  return new UnauthenticatedError(message, 'invalid_token', cause);
}

/** Every failure becomes a 401 with a fixed message: the token itself never appears in it. */
function toAuthError(error: unknown): TenantplaneError {
  if (error instanceof TenantplaneError) return error;
  if (error instanceof errors.JWTExpired) {
    // A distinct code, because the client's fix (get a fresh token) differs from every other case.
    return new UnauthenticatedError('token has expired', 'token_expired', error);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    // `claim` is a claim name chosen by jose, never a value taken from the token.
    return invalid(`token "${error.claim}" claim is not acceptable`, error);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid('token algorithm is not allowed', error);
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid('token signature is invalid', error);
  }
  return invalid('token is malformed', error);
}

interface VerifiedToken {
  principal: Principal;
  kid: string;
  jwk: JWK;
  source: KeySource;
  /** Epoch ms after which the token is verified afresh. */
  expiresAt: number;
}

/** The `iss` a token's payload names, unverified: it only picks whose keys verify the token. */
function claimedIssuer(token: FlattenedJWSInput): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(base64url.decode(token.payload ?? ''))).iss;
  } catch {
    return undefined;
  }
}

function otherIssuersOption(value: unknown, issuer: string): Map<string, KeySource> {
  const sources = new Map<string, KeySource>();
  if (value === undefined) return sources;
  if (!Array.isArray(value)) throw new TypeError('otherIssuers must be an array');
  for (const other of value as Array<{ issuer?: unknown; jwks?: JSONWebKeySet; keys?: KeySource }>) {
    const name = requireString('otherIssuers[].issuer', other?.issuer);
    if (name === issuer || sources.has(name)) {
      throw new TypeError(`otherIssuers names the issuer ${JSON.stringify(name)} twice`);
    }
    sources.set(name, other.keys ?? createLocalKeySource(other.jwks as JSONWebKeySet));
  }
  return sources;
}

/** Builds a verifier for bearer tokens; checks the options now so a bad configuration fails at start-up. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const issuer = requireString('issuer', options.issuer);
  const audience = requireString('audience', options.audience);
  const clockTolerance = numberOption(options, 'clockToleranceSeconds', 0);
  const algorithms = algorithmsOption(options.algorithms);

  const keys = options.keys as Partial<{ jwksUrl: unknown; jwks: JSONWebKeySet }> | undefined;
  const remote = typeof keys === 'object' && keys !== null && 'jwksUrl' in keys;
  const local = typeof keys === 'object' && keys !== null && 'jwks' in keys;
  if (remote === local) throw new TypeError('keys must be either { jwksUrl } or { jwks }');
  const keySource: KeySource = remote
    ? createRemoteKeySource({
        jwksUrl: jwksUrlOption(keys!.jwksUrl),
        keyCacheMaxAgeMs: numberOption(options, 'keyCacheMaxAgeMs', 1),
        staleKeyMaxAgeMs: numberOption(options, 'staleKeyMaxAgeMs', 0),
        jwksRequestsPerMinute: numberOption(options, 'jwksRequestsPerMinute', 1, true),
        jwksTimeoutMs: numberOption(options, 'jwksTimeoutMs', 1),
      })
    : createLocalKeySource(keys!.jwks as JSONWebKeySet);
  const otherSources = otherIssuersOption(options.otherIssuers, issuer);
  const issuers = [issuer, ...otherSources.keys()];
  /** Whose keys verify this token: the issuer it names, if that is one of the others. */
  const sourceFor = (token: FlattenedJWSInput): KeySource => {
    if (otherSources.size === 0) return keySource;
    const named = claimedIssuer(token);
    return (typeof named === 'string' ? otherSources.get(named) : undefined) ?? keySource;
  };

  // Importing a JWK costs a WebCrypto call; a key set object is replaced on refetch, so entries for
  // keys that are gone are collected with it.
  const imported = new WeakMap<JWK, Promise<CryptoKey>>();
  function importKey(jwk: JWK, alg: string): Promise<CryptoKey> {
    let key = imported.get(jwk);
    if (key === undefined) {
      key = importJWK(jwk, alg) as Promise<CryptoKey>;
      imported.set(jwk, key);
    }
    return key;
  }

  const cacheSize = numberOption(options, 'verifiedTokenCacheSize', 0, true);
  const cacheMs = numberOption(options, 'verifiedTokenCacheMs', 1);
  const verified =
    cacheSize > 0 ? new LRUCache<string, VerifiedToken>({ max: cacheSize, ttl: cacheMs }) : undefined;

  const resolveKey = async (
    header: JWTHeaderParameters,
    token: FlattenedJWSInput,
    used: { jwk?: JWK; source?: KeySource },
  ): Promise<CryptoKey> => {
    const { alg, kid } = header;
    // jose already enforces `algorithms`; checking again here keeps the key lookup safe on its own.
    if (typeof alg !== 'string' || !(algorithms as string[]).includes(alg)) {
      throw invalid('token algorithm is not allowed');
    }
    if (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH) {
      throw invalid('token header has no usable "kid"');
    }
    const source = sourceFor(token);
    const jwk = await source.getKey(kid);
    if (!keyFitsAlgorithm(jwk, alg)) throw invalid('token algorithm does not match its key');
    used.jwk = jwk;
    used.source = source;
    return importKey(jwk, alg);
  };

  return {
    async verify(token: string): Promise<Principal> {
      if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) {
        throw invalid('token is malformed');
      }
      const cached = verified?.get(token);
      if (cached && Date.now() < cached.expiresAt && cached.source.current(cached.kid) === cached.jwk) {
        return cached.principal;
      }
      let payload: JWTPayload;
      let protectedHeader: JWTHeaderParameters;
      const used: { jwk?: JWK; source?: KeySource } = {};
      try {
        ({ payload, protectedHeader } = await jwtVerify(
          token,
          (header, input) => resolveKey(header, input, used),
          {
            issuer: issuers,
            audience,
            algorithms,
            clockTolerance,
            requiredClaims: ['exp'],
          },
        ));
      } catch (error) {
        throw toAuthError(error);
      }
      const principal = principalFromClaims(payload);
      const nowSeconds = Date.now() / 1000;
      // Only tokens valid right now, without leaning on the clock tolerance, are remembered.
      if (
        verified &&
        used.jwk &&
        used.source &&
        typeof payload.exp === 'number' &&
        payload.exp > nowSeconds
      ) {
        if (payload.nbf === undefined || payload.nbf <= nowSeconds) {
          verified.set(token, {
            principal,
            kid: protectedHeader.kid!,
            jwk: used.jwk,
            source: used.source,
            expiresAt: Math.min(payload.exp * 1000, Date.now() + cacheMs),
          });
        }
      }
      return principal;
    },
  };
}
