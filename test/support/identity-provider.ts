import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  base64url,
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from '../../src/auth/index.js';
import { TenantplaneError, UnauthenticatedError, UnavailableError } from '../../src/errors/index.js';
import { rejection } from './async-helpers.js';

/**
 * A fake identity provider for the auth tests: signing keys, tokens signed with them, and a JWKS endpoint
 * that publishes the keys and can be broken at will.
 */

export const ISSUER = 'https://idp.example.test/';
export const AUDIENCE = 'tenantplane';

export interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Claims of a token that passes every check; `overrides` set to undefined drop a claim. */
export function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    iat: now,
    exp: now + 300,
    tenant_id: 'acme',
    ...overrides,
  };
}

export function sign(
  key: TestKey,
  overrides: JWTPayload = {},
  header: { alg?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(claims(overrides))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

export function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** The TenantplaneError a promise rejects with; fails the test if it resolves or rejects otherwise. */
export async function authRejection(promise: Promise<unknown>): Promise<TenantplaneError> {
  const error = await rejection(promise);
  expect(error).to.be.instanceOf(TenantplaneError);
  return error as TenantplaneError;
}

export async function expect401(
  verifier: TokenVerifier,
  token: string,
  code = 'invalid_token',
): Promise<void> {
  const error = await authRejection(verifier.verify(token));
  expect(error).to.be.instanceOf(UnauthenticatedError);
  expect(error.status).to.equal(401);
  expect(error.code).to.equal(code);
  for (const segment of token.split('.')) if (segment !== '') expect(error.message).to.not.include(segment);
}

export async function expect503(verifier: TokenVerifier, token: string): Promise<void> {
  const error = await authRejection(verifier.verify(token));
  expect(error).to.be.instanceOf(UnavailableError);
  expect(error.status).to.equal(503);
  expect(error.code).to.equal('auth_provider_unavailable');
}

export interface Closable {
  close(): Promise<void>;
}

/** Listens on a free loopback port; returns the server's base URL. */
export async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function closer(server: http.Server): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // fetch keeps connections alive, and a hanging response never ends by itself.
      server.closeAllConnections();
    });
    return closing;
  };
}

/** A JWKS endpoint the test can break: `error` answers 503, `hang` never answers, close() takes it away. */
export interface JwksServer extends Closable {
  url: string;
  requests: number;
  mode: 'ok' | 'error' | 'hang';
  keys: JWK[];
}

async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const server = http.createServer((_req, res) => {
    state.requests += 1;
    if (state.mode === 'hang') return;
    if (state.mode === 'error') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  const base = await listen(server);
  const state: JwksServer = {
    url: `${base}/.well-known/jwks.json`,
    requests: 0,
    mode: 'ok',
    keys,
    close: closer(server),
  };
  return state;
}

/** A verifier of the provider's tokens that fetches the keys from `server`. */
export function remoteVerifier(
  server: JwksServer,
  options: Partial<TokenVerifierOptions> = {},
): TokenVerifier {
  return createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: { jwksUrl: server.url },
    ...options,
  });
}

let keys: Promise<[TestKey, TestKey, TestKey]> | undefined;

/** rsa, ec and forgedRsa (see IdentityProvider): made once a run, since RSA keys take a while to generate. */
function testKeys(): Promise<[TestKey, TestKey, TestKey]> {
  keys ??= Promise.all([makeKey('RS256', 'rsa-1'), makeKey('ES256', 'ec-1'), makeKey('RS256', 'rsa-1')]);
  return keys;
}

/** The provider as a describe block uses it: its keys, and servers that are closed after each test. */
export interface IdentityProvider {
  rsa: TestKey;
  ec: TestKey;
  /** Same kid as `rsa`, different key: what a forger would use. */
  forgedRsa: TestKey;
  /** A JWKS endpoint publishing `keys` (by default rsa's and ec's), closed after the test. */
  jwksServer(keys?: JWK[]): Promise<JwksServer>;
  /** Closes `closable` after the test. */
  closeAfterTest(closable: Closable): void;
}

/** Registers, in the calling describe block, the hooks that make the keys and close what a test opened. */
export function fakeIdentityProvider(): IdentityProvider {
  const opened: Closable[] = [];
  const provider = {
    async jwksServer(keys?: JWK[]) {
      const server = await startJwksServer(keys ?? [provider.rsa.publicJwk, provider.ec.publicJwk]);
      opened.push(server);
      return server;
    },
    closeAfterTest(closable: Closable) {
      opened.push(closable);
    },
  } as IdentityProvider;

  before(async () => {
    [provider.rsa, provider.ec, provider.forgedRsa] = await testKeys();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((server) => server.close()));
  });

  return provider;
}
