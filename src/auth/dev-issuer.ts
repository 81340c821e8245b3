import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';
import { ConfigError, InvalidInputError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import { ADMIN_SCOPES, adminScopesOf } from './admin-scopes.js';
import type { TokenVerifier } from './principal.js';
import { signToken } from './sign-token.js';
import { createTokenVerifier, type TokenVerifierOptions } from './token-verifier.js';

/** `iss` of every development token. */
export const DEV_ISSUER = 'tenantplane-dev';
/** `aud` of every development token. */
export const DEV_AUDIENCE = 'tenantplane';
/** File in the data directory that holds the development signing key (a private JWK). */
export const DEV_ISSUER_FILE = 'dev-issuer.json';

export interface MintOptions {
  /** Tenant the token is for, written as the `tenant_id` claim. Must be a slug. Default: none. */
  tenantId?: string;
  /** Grants the `tenantplane:admin` scope. Default false. */
  admin?: boolean;
  /** Further scopes for the `scope` claim (`tenantplane:viewer`, ...). Default none. */
  scopes?: readonly string[];
  /** The `tenant_role` claim (`admin`, `member`, `viewer`). Default: none, which means `member`. */
  tenantRole?: string;
  /** RFC 8693's `act.sub`: the operator acting through the token (an impersonation). Default none. */
  actor?: string;
  /** The `jti` claim. Default none. */
  jwtId?: string;
  /** The `sub` claim. Default 'dev'. */
  subject?: string;
  /** Lifetime in seconds. Default 3600. */
  expiresInSeconds?: number;
}

interface SigningJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d: string;
  kid: string;
}

function parseKeyFile(text: string, file: string): SigningJwk {
  let jwk: Partial<Record<keyof SigningJwk, unknown>>;
  try {
    jwk = JSON.parse(text);
  } catch {
    jwk = {};
  }
  const stringMembers = [jwk?.x, jwk?.y, jwk?.d, jwk?.kid];
  if (
    jwk?.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    !stringMembers.every((v) => typeof v === 'string' && v !== '')
  ) {
    throw new ConfigError(`${file} does not hold a P-256 private JWK; delete it to have a new key generated`);
  }
  return jwk as SigningJwk;
}

/**
 * Creates the key file unless another process got there first. The key is written in full to a temp
 * file and then hard-linked into place: link() fails with EEXIST instead of overwriting, so the first
 * writer wins and nobody ever reads a half-written file. Callers re-read the file either way.
 */
async function createKeyFile(dataDir: string, file: string): Promise<void> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK);
  const content = `${JSON.stringify({ kty, crv, x, y, d, kid, alg: 'ES256', use: 'sig' }, null, 2)}\n`;

  const temp = path.join(dataDir, `.${DEV_ISSUER_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 0600 from the start: the private key is never readable by others, not even briefly.
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(temp, { force: true });
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The built-in identity provider for development, used when no AUTH_* settings point at a real one.
 * It signs ES256 tokens with a key kept in the data directory, so tokens survive restarts.
 */
export class DevIssuer {
  readonly issuer = DEV_ISSUER;
  readonly audience = DEV_AUDIENCE;
  readonly #kid: string;
  readonly #privateKey: CryptoKey;
  readonly #publicJwk: JWK;
  #verifier: TokenVerifier | undefined;

  private constructor(kid: string, privateKey: CryptoKey, publicJwk: JWK) {
    this.#kid = kid;
    this.#privateKey = privateKey;
    this.#publicJwk = publicJwk;
  }

  /** Reads `<dataDir>/dev-issuer.json`, generating it (and the directory) on first use. */
  static async load(dataDir: string): Promise<DevIssuer> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = path.join(dataDir, DEV_ISSUER_FILE);
    let text = await readIfExists(file);
    if (text === undefined) {
      await createKeyFile(dataDir, file);
      text = await readFile(file, 'utf8');
    }
    const { kty, crv, x, y, d, kid } = parseKeyFile(text, file);
    let privateKey: CryptoKey;
    try {
      privateKey = (await importJWK({ kty, crv, x, y, d }, 'ES256')) as CryptoKey;
    } catch {
      throw new ConfigError(
        `${file} does not hold a usable P-256 key; delete it to have a new key generated`,
      );
    }
    return new DevIssuer(kid, privateKey, { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' });
  }

  /** The public key set, as a remote provider would serve it; a fresh copy on every call. */
  jwks(): JSONWebKeySet {
    return { keys: [{ ...this.#publicJwk }] };
  }

  /** Signs a token for a tenant, for the admin API, or both. */
  async mint(options: MintOptions = {}): Promise<string> {
    const { tenantId, admin = false, subject = 'dev', expiresInSeconds = 3600 } = options;
    const scopes = [...new Set([...(admin ? [ADMIN_SCOPES.admin] : []), ...(options.scopes ?? [])])];
    // Refuse here what the verifier would refuse later, so a bad token is never handed out.
    if (tenantId !== undefined) assertSlug(tenantId);
    if (tenantId === undefined && adminScopesOf(scopes).length === 0) {
      throw new InvalidInputError('a token needs a tenant id, an admin scope, or both');
    }
    if (scopes.some((scope) => scope === '' || /\s/.test(scope))) {
      throw new InvalidInputError('a scope is a non-empty word without spaces');
    }
    if (typeof subject !== 'string' || subject === '') {
      throw new InvalidInputError('subject must be a non-empty string');
    }
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0) {
      throw new InvalidInputError('expiresInSeconds must be a positive integer');
    }

    const claims: JWTPayload = {};
    if (tenantId !== undefined) claims['tenant_id'] = tenantId;
    if (scopes.length > 0) claims['scope'] = scopes.join(' ');
    if (options.tenantRole !== undefined) claims['tenant_role'] = options.tenantRole;
    if (options.actor !== undefined) claims['act'] = { sub: options.actor };
    if (options.jwtId !== undefined) claims.jti = options.jwtId;
    return signToken(
      { kid: this.#kid, privateKey: this.#privateKey },
      { issuer: DEV_ISSUER, audience: DEV_AUDIENCE, subject, expiresInSeconds, claims },
    );
  }

  /** A verifier for this issuer's tokens; `options` apply to the first call only. */
  verifier(options: Pick<TokenVerifierOptions, 'verifiedTokenCacheSize'> = {}): TokenVerifier {
    this.#verifier ??= createTokenVerifier({
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      keys: { jwks: this.jwks() },
      ...options,
    });
    return this.#verifier;
  }
}
