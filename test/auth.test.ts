import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import express, { type ErrorRequestHandler } from 'express';
import {
  base64url,
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import {
  ADMIN_SCOPE,
  authenticate,
  createTokenVerifier,
  DEV_AUDIENCE,
  DEV_ISSUER,
  DevIssuer,
  requireAdmin,
  type TokenVerifier,
  type TokenVerifierOptions,
} from '../src/auth/index.js';
import { TenantplaneError, UnauthenticatedError, UnavailableError } from '../src/errors.js';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'tenantplane';

interface TestKey {
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
function claims(overrides: JWTPayload = {}): JWTPayload {
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

function sign(
  key: TestKey,
  overrides: JWTPayload = {},
  header: { alg?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(claims(overrides))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<TenantplaneError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(TenantplaneError);
    return error as TenantplaneError;
  }
  return expect.fail('expected a rejection, got a principal');
}

async function expect401(verifier: TokenVerifier, token: string, code = 'invalid_token'): Promise<void> {
  const error = await rejection(verifier.verify(token));
  expect(error).to.be.instanceOf(UnauthenticatedError);
  expect(error.status).to.equal(401);
  expect(error.code).to.equal(code);
  for (const segment of token.split('.')) if (segment !== '') expect(error.message).to.not.include(segment);
}

async function expect503(verifier: TokenVerifier, token: string): Promise<void> {
  const error = await rejection(verifier.verify(token));
  expect(error).to.be.instanceOf(UnavailableError);
  expect(error.status).to.equal(503);
  expect(error.code).to.equal('auth_provider_unavailable');
}

interface Closable {
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: http.Server): () => Promise<void> {
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
interface JwksServer extends Closable {
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

describe('auth', () => {
  let rsa: TestKey;
  let ec: TestKey;
  /** Same kid as `rsa`, different key: what a forger would use. */
  let forgedRsa: TestKey;
  const opened: Closable[] = [];

  async function jwksServer(keys: JWK[] = [rsa.publicJwk, ec.publicJwk]): Promise<JwksServer> {
    const server = await startJwksServer(keys);
    opened.push(server);
    return server;
  }

  function remoteVerifier(server: JwksServer, options: Partial<TokenVerifierOptions> = {}): TokenVerifier {
    return createTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { jwksUrl: server.url },
      ...options,
    });
  }

  before(async () => {
    [rsa, ec, forgedRsa] = await Promise.all([
      makeKey('RS256', 'rsa-1'),
      makeKey('ES256', 'ec-1'),
      makeKey('RS256', 'rsa-1'),
    ]);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((server) => server.close()));
  });

  describe('createTokenVerifier', () => {
    let server: JwksServer;
    let verifier: TokenVerifier;

    beforeEach(async () => {
      server = await jwksServer();
      verifier = remoteVerifier(server);
    });

    it('accepts a valid RS256 tenant token and builds the principal', async () => {
      const principal = await verifier.verify(await sign(rsa, { scope: 'tenant:read tenant:write' }));
      expect(principal.subject).to.equal('user-1');
      expect(principal.tenantId).to.equal('acme');
      expect(principal.scopes).to.deep.equal(['tenant:read', 'tenant:write']);
      expect(principal.isAdmin).to.equal(false);
      expect(principal.claims.iss).to.equal(ISSUER);
    });

    it('accepts a valid ES256 admin token without a tenant, scopes given as an scp array', async () => {
      const principal = await verifier.verify(
        await sign(ec, { tenant_id: undefined, scp: [ADMIN_SCOPE, 'x'] }),
      );
      expect(principal.tenantId).to.equal(undefined);
      expect(principal.isAdmin).to.equal(true);
      expect(principal.scopes).to.deep.equal([ADMIN_SCOPE, 'x']);
    });

    it('rejects an unsigned alg:none token', async () => {
      const token = `${encodeSegment({ alg: 'none', kid: rsa.kid, typ: 'JWT' })}.${encodeSegment(claims())}.`;
      await expect401(verifier, token);
    });

    it('rejects HS256 tokens signed with the RSA public key as the HMAC secret', async () => {
      const pem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256')) as CryptoKey);
      for (const secret of [pem, JSON.stringify(rsa.publicJwk)]) {
        const token = await new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'JWT' })
          .sign(new TextEncoder().encode(secret));
        await expect401(verifier, token);
      }
    });

    it('rejects a token whose alg does not fit the key its kid names', async () => {
      // ES256 signature, RSA kid; and RS256 signature, EC kid.
      await expect401(verifier, await sign(ec, {}, { kid: rsa.kid }));
      await expect401(verifier, await sign(rsa, {}, { kid: ec.kid }));
    });

    it('rejects a wrong issuer and a wrong audience', async () => {
      await expect401(verifier, await sign(rsa, { iss: 'https://evil.example.test/' }));
      await expect401(verifier, await sign(rsa, { aud: 'someone-else' }));
    });

    it('rejects a token expired beyond the clock tolerance as token_expired', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(verifier, await sign(rsa, { iat: now - 600, exp: now - 120 }), 'token_expired');
    });

    it('rejects a token not valid yet beyond the clock tolerance', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(verifier, await sign(rsa, { nbf: now + 120 }));
    });

    it('accepts expiry and nbf within the clock tolerance', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await verifier.verify(await sign(rsa, { iat: now - 600, exp: now - 10 }));
      expect(expired.tenantId).to.equal('acme');
      const early = await verifier.verify(await sign(rsa, { nbf: now + 10 }));
      expect(early.tenantId).to.equal('acme');
    });

    it('rejects a token without exp', async () => {
      await expect401(verifier, await sign(rsa, { exp: undefined }));
    });

    it('rejects an unknown kid with 401 while the provider is up', async () => {
      await expect401(verifier, await sign(rsa, {}, { kid: 'never-published' }));
      expect(server.requests).to.be.greaterThan(0);
    });

    it('rejects a signature by a different key under a known kid', async () => {
      await expect401(verifier, await sign(forgedRsa));
    });

    it('rejects a tampered payload', async () => {
      const [header, , signature] = (await sign(rsa)).split('.');
      const tampered = `${header}.${encodeSegment(claims({ tenant_id: 'other-tenant' }))}.${signature}`;
      await expect401(verifier, tampered);
    });

    it('rejects a malformed tenant_id and a token with neither tenant nor admin scope', async () => {
      await expect401(verifier, await sign(rsa, { tenant_id: 'Not_A_Slug' }));
      await expect401(verifier, await sign(rsa, { tenant_id: 12 }));
      await expect401(verifier, await sign(rsa, { tenant_id: undefined, scope: 'tenant:read' }));
    });

    it('remembers a verified token only until it expires, and never for a look-alike', async () => {
      const strict = remoteVerifier(server, { clockToleranceSeconds: 0 });
      const token = await sign(rsa, { exp: Math.floor(Date.now() / 1000) + 1 });
      const first = await strict.verify(token);
      expect(await strict.verify(token)).to.deep.equal(first);
      const [header, , signature] = token.split('.');
      await expect401(
        strict,
        `${header}.${encodeSegment(claims({ tenant_id: 'other-tenant' }))}.${signature}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await expect401(strict, token, 'token_expired');
    });

    it('rejects garbage that is not a JWT', async () => {
      await expect401(verifier, 'not-a-token');
    });

    it('stops trusting a key once the provider withdraws it', async () => {
      const token = await sign(rsa);
      await verifier.verify(token);
      server.keys = [ec.publicJwk];
      // An unknown kid makes the verifier fetch the key set again, which no longer has rsa-1.
      await expect401(verifier, await sign(rsa, {}, { kid: 'rotated-in' }));
      await expect401(verifier, token);
    });

    it('refuses bad options with a TypeError', () => {
      const base = { issuer: ISSUER, audience: AUDIENCE, keys: { jwksUrl: server.url } };
      const bad: unknown[] = [
        { ...base, keys: { jwksUrl: 'not a url' } },
        { ...base, keys: { jwksUrl: 'http://idp.example.test/jwks.json' } },
        { ...base, keys: { jwksUrl: 'ftp://127.0.0.1/jwks.json' } },
        { ...base, keys: {} },
        { ...base, keys: { jwksUrl: server.url, jwks: { keys: [rsa.publicJwk] } } },
        { ...base, keys: { jwks: { keys: [] } } },
        { ...base, keys: { jwks: { keys: [{ ...rsa.publicJwk, d: 'secret' }] } } },
        { ...base, issuer: '' },
        { ...base, audience: undefined },
        { ...base, algorithms: ['HS256'] },
        { ...base, algorithms: ['RS256', 'none'] },
        { ...base, algorithms: [] },
        { ...base, clockToleranceSeconds: -1 },
        { ...base, keyCacheMaxAgeMs: 0 },
        { ...base, staleKeyMaxAgeMs: Number.NaN },
        { ...base, jwksRequestsPerMinute: 1.5 },
        { ...base, jwksTimeoutMs: 'soon' },
      ];
      for (const options of bad) {
        expect(() => createTokenVerifier(options as TokenVerifierOptions), JSON.stringify(options)).to.throw(
          TypeError,
        );
      }
      expect(() => createTokenVerifier({ ...base, algorithms: ['ES256'] })).to.not.throw();
    });

    it('honours a narrowed algorithm list', async () => {
      const esOnly = remoteVerifier(server, { algorithms: ['ES256'] });
      await esOnly.verify(await sign(ec));
      await expect401(esOnly, await sign(rsa));
    });
  });

  describe('identity provider outages', () => {
    it('keeps verifying with a warm cache while the provider errors or is gone', async () => {
      const server = await jwksServer();
      const verifier = remoteVerifier(server);
      const token = await sign(rsa);
      await verifier.verify(token);

      server.mode = 'error';
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
      await server.close();
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
    });

    it('serves the last known key past the cache age while the provider is down, within the stale window', async () => {
      const server = await jwksServer();
      const verifier = remoteVerifier(server, { keyCacheMaxAgeMs: 100, staleKeyMaxAgeMs: 5000 });
      const token = await sign(ec);
      await verifier.verify(token);
      server.mode = 'error';
      await sleep(200);

      const before = server.requests;
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
      // The cache had expired, so the provider was asked and failed: the fallback did the work.
      expect(server.requests).to.be.greaterThan(before);
    });

    it('answers 503, not 401, when the provider is down and no key was ever fetched', async () => {
      const server = await jwksServer();
      await server.close();
      const verifier = remoteVerifier(server);
      await expect503(verifier, await sign(rsa));
    });

    it('answers 503 when the provider answers 5xx on a cold cache', async () => {
      const server = await jwksServer();
      server.mode = 'error';
      await expect503(remoteVerifier(server), await sign(rsa));
    });

    it('gives up on a hanging provider after jwksTimeoutMs with 503', async () => {
      const server = await jwksServer();
      server.mode = 'hang';
      const verifier = remoteVerifier(server, { jwksTimeoutMs: 200 });
      const started = Date.now();
      await expect503(verifier, await sign(rsa));
      expect(Date.now() - started).to.be.lessThan(2000);
    });

    it('answers 503 once the last known key is older than the stale window, and recovers', async () => {
      const server = await jwksServer();
      const verifier = remoteVerifier(server, { keyCacheMaxAgeMs: 50, staleKeyMaxAgeMs: 200 });
      const token = await sign(rsa);
      await verifier.verify(token);
      server.mode = 'error';
      await sleep(400);
      await expect503(verifier, token);

      server.mode = 'ok';
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
    });

    it('rate-limits refetches caused by unknown kids', async () => {
      const limit = 4;
      const server = await jwksServer();
      const verifier = remoteVerifier(server, { jwksRequestsPerMinute: limit });
      const good = await sign(rsa);
      await verifier.verify(good);

      const forged = await Promise.all(
        Array.from({ length: 25 }, () => sign(rsa, {}, { kid: randomUUID() })),
      );
      for (const token of forged.slice(0, 10)) await expect401(verifier, token);
      await Promise.all(forged.slice(10).map((token) => expect401(verifier, token)));

      expect(server.requests).to.be.greaterThan(1);
      expect(server.requests).to.be.at.most(limit + 1);
      // A key that is already cached does not need a fetch, so the exhausted limit does not hurt it.
      expect((await verifier.verify(good)).tenantId).to.equal('acme');
    });
  });

  describe('DevIssuer', () => {
    const dirs: string[] = [];

    async function tempDir(): Promise<string> {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-auth-'));
      dirs.push(dir);
      return dir;
    }

    after(async () => {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    it('mints tokens its verifier accepts; a tenant token is not admin', async () => {
      const issuer = await DevIssuer.load(await tempDir());
      const tenant = await issuer.verifier().verify(await issuer.mint({ tenantId: 'acme' }));
      expect(tenant).to.include({ tenantId: 'acme', isAdmin: false, subject: 'dev' });
      expect(tenant.scopes).to.deep.equal([]);
      expect(tenant.claims).to.include({ iss: DEV_ISSUER, aud: DEV_AUDIENCE });
      expect((tenant.claims.exp ?? 0) - (tenant.claims.iat ?? 0)).to.equal(3600);

      const admin = await issuer.verifier().verify(await issuer.mint({ admin: true, subject: 'ops' }));
      expect(admin).to.include({ tenantId: undefined, isAdmin: true, subject: 'ops' });
      expect(admin.scopes).to.deep.equal([ADMIN_SCOPE]);
    });

    it('persists the key with mode 0600 and reuses it on the next load', async () => {
      const dir = path.join(await tempDir(), 'not', 'there', 'yet');
      const first = await DevIssuer.load(dir);
      const second = await DevIssuer.load(dir);
      expect(second.jwks()).to.deep.equal(first.jwks());
      expect((await stat(path.join(dir, 'dev-issuer.json'))).mode & 0o777).to.equal(0o600);
      const principal = await second.verifier().verify(await first.mint({ tenantId: 'acme' }));
      expect(principal.tenantId).to.equal('acme');
    });

    it('publishes only the public key, with kid and alg', async () => {
      const [jwk] = (await DevIssuer.load(await tempDir())).jwks().keys;
      expect(jwk).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
      expect(jwk?.kid).to.be.a('string').that.is.not.empty;
      expect(jwk).to.not.have.property('d');
    });

    it('ends up with one key when several loads race on a fresh directory', async () => {
      const dir = await tempDir();
      // Staggered starts, so some loads read the file while others are still about to write theirs.
      const issuers = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          await sleep(i % 4);
          return DevIssuer.load(dir);
        }),
      );
      const kids = new Set(issuers.map((issuer) => issuer.jwks().keys[0]?.kid));
      expect(kids.size).to.equal(1);
      expect(await readdir(dir)).to.deep.equal(['dev-issuer.json']);
    });

    it("refuses another data directory's tokens", async () => {
      const mine = await DevIssuer.load(await tempDir());
      const theirs = await DevIssuer.load(await tempDir());
      await expect401(mine.verifier(), await theirs.mint({ tenantId: 'acme' }));
    });

    it('refuses to mint a token that would authorize nothing or name a bad tenant', async () => {
      const issuer = await DevIssuer.load(await tempDir());
      expect((await rejection(issuer.mint({}))).status).to.equal(400);
      expect((await rejection(issuer.mint({ tenantId: 'Bad Tenant' }))).status).to.equal(400);
    });
  });

  describe('authenticate middleware', () => {
    let issuer: DevIssuer;
    let stranger: DevIssuer;
    let baseUrl: string;
    const dirs: string[] = [];

    before(async () => {
      for (let i = 0; i < 2; i++) dirs.push(await mkdtemp(path.join(os.tmpdir(), 'tenantplane-auth-')));
      [issuer, stranger] = await Promise.all(dirs.map((dir) => DevIssuer.load(dir)));
    });

    after(async () => {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    beforeEach(async () => {
      const app = express();
      app.get('/whoami', authenticate(issuer.verifier()), (req, res) => {
        res.json({ principal: req.principal });
      });
      app.get('/admin', authenticate(issuer.verifier()), requireAdmin(), (_req, res) => {
        res.json({ ok: true });
      });
      const onError: ErrorRequestHandler = (error, _req, res, _next) => {
        const status = error instanceof TenantplaneError ? error.status : 500;
        res.status(status).json({ error: { code: error.code, message: error.message } });
      };
      app.use(onError);
      const server = http.createServer(app);
      baseUrl = await listen(server);
      opened.push({ close: closer(server) });
    });

    interface Reply {
      status: number;
      headers: Headers;
      body: { principal?: Record<string, unknown>; ok?: boolean; error?: { code: string; message: string } };
    }

    async function get(route: string, authorization?: string): Promise<Reply> {
      const response = await fetch(`${baseUrl}${route}`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as Reply['body'],
      };
    }

    it('answers 401 missing_token without a bearer token', async () => {
      const missing = await get('/whoami');
      expect(missing.status).to.equal(401);
      expect(missing.body.error?.code).to.equal('missing_token');
      expect(missing.headers.get('www-authenticate')).to.match(/^Bearer /);

      const basic = await get('/whoami', 'Basic dXNlcjpwYXNz');
      expect(basic.status).to.equal(401);
      expect(basic.body.error?.code).to.equal('missing_token');
    });

    it('answers 401 invalid_token for a bad token', async () => {
      const response = await get('/whoami', `Bearer ${await stranger.mint({ tenantId: 'acme' })}`);
      expect(response.status).to.equal(401);
      expect(response.body.error?.code).to.equal('invalid_token');
      expect(response.headers.get('www-authenticate')).to.include('error="invalid_token"');
    });

    it('sets req.principal for a good token, whatever the case of the scheme', async () => {
      const token = await issuer.mint({ tenantId: 'acme' });
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const response = await get('/whoami', `${scheme} ${token}`);
        expect(response.status).to.equal(200);
        expect(response.body.principal).to.include({ tenantId: 'acme', isAdmin: false, subject: 'dev' });
      }
    });

    it('answers 403 admin_scope_required on an admin route with a tenant token', async () => {
      const tenant = await get('/admin', `Bearer ${await issuer.mint({ tenantId: 'acme' })}`);
      expect(tenant.status).to.equal(403);
      expect(tenant.body.error?.code).to.equal('admin_scope_required');

      const admin = await get('/admin', `Bearer ${await issuer.mint({ admin: true })}`);
      expect(admin.status).to.equal(200);
      expect(admin.body).to.deep.equal({ ok: true });
    });

    it('answers 503 through the middleware when the identity provider is down', async () => {
      const jwks = await jwksServer();
      await jwks.close();
      const app = express();
      app.get('/whoami', authenticate(remoteVerifier(jwks)), (_req, res) => {
        res.json({});
      });
      app.use(((error, _req, res, _next) => {
        res.status(error.status).json({ error: { code: error.code } });
      }) as ErrorRequestHandler);
      const server = http.createServer(app);
      const url = await listen(server);
      opened.push({ close: closer(server) });

      const response = await fetch(`${url}/whoami`, {
        headers: { authorization: `Bearer ${await sign(rsa)}` },
      });
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.equal({ error: { code: 'auth_provider_unavailable' } });
    });
  });
});
