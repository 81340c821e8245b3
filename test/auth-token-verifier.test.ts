import { expect } from 'chai';
import { type CryptoKey, exportSPKI, importJWK, SignJWT } from 'jose';
import {
  ADMIN_SCOPE,
  createTokenVerifier,
  type TokenVerifier,
  type TokenVerifierOptions,
} from '../src/auth/index.js';
import {
  AUDIENCE,
  claims,
  encodeSegment,
  expect401,
  fakeIdentityProvider,
  ISSUER,
  type JwksServer,
  remoteVerifier,
  sign,
} from './support/identity-provider.js';

describe('auth', () => {
  const idp = fakeIdentityProvider();

  describe('createTokenVerifier', () => {
    let server: JwksServer;
    let verifier: TokenVerifier;

    beforeEach(async () => {
      server = await idp.jwksServer();
      verifier = remoteVerifier(server);
    });

    it('accepts a valid RS256 tenant token and builds the principal', async () => {
      const principal = await verifier.verify(await sign(idp.rsa, { scope: 'tenant:read tenant:write' }));
      expect(principal.subject).to.equal('user-1');
      expect(principal.tenantId).to.equal('acme');
      expect(principal.scopes).to.deep.equal(['tenant:read', 'tenant:write']);
      expect(principal.isAdmin).to.equal(false);
      expect(principal.claims.iss).to.equal(ISSUER);
    });

    it('accepts a valid ES256 admin token without a tenant, scopes given as an scp array', async () => {
      const principal = await verifier.verify(
        await sign(idp.ec, { tenant_id: undefined, scp: [ADMIN_SCOPE, 'x'] }),
      );
      expect(principal.tenantId).to.equal(undefined);
      expect(principal.isAdmin).to.equal(true);
      expect(principal.scopes).to.deep.equal([ADMIN_SCOPE, 'x']);
    });

    it('rejects an unsigned alg:none token', async () => {
      const token = `${encodeSegment({ alg: 'none', kid: idp.rsa.kid, typ: 'JWT' })}.${encodeSegment(claims())}.`;
      await expect401(verifier, token);
    });

    it('rejects HS256 tokens signed with the RSA public key as the HMAC secret', async () => {
      const pem = await exportSPKI((await importJWK(idp.rsa.publicJwk, 'RS256')) as CryptoKey);
      for (const secret of [pem, JSON.stringify(idp.rsa.publicJwk)]) {
        const token = await new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid: idp.rsa.kid, typ: 'JWT' })
          .sign(new TextEncoder().encode(secret));
        await expect401(verifier, token);
      }
    });

    it('rejects a token whose alg does not fit the key its kid names', async () => {
      // ES256 signature, RSA kid; and RS256 signature, EC kid.
      await expect401(verifier, await sign(idp.ec, {}, { kid: idp.rsa.kid }));
      await expect401(verifier, await sign(idp.rsa, {}, { kid: idp.ec.kid }));
    });

    it('rejects a wrong issuer and a wrong audience', async () => {
      await expect401(verifier, await sign(idp.rsa, { iss: 'https://evil.example.test/' }));
      await expect401(verifier, await sign(idp.rsa, { aud: 'someone-else' }));
    });

    it('rejects a token expired beyond the clock tolerance as token_expired', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(verifier, await sign(idp.rsa, { iat: now - 600, exp: now - 120 }), 'token_expired');
    });

    it('rejects a token not valid yet beyond the clock tolerance', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(verifier, await sign(idp.rsa, { nbf: now + 120 }));
    });

    it('accepts expiry and nbf within the clock tolerance', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await verifier.verify(await sign(idp.rsa, { iat: now - 600, exp: now - 10 }));
      expect(expired.tenantId).to.equal('acme');
      const early = await verifier.verify(await sign(idp.rsa, { nbf: now + 10 }));
      expect(early.tenantId).to.equal('acme');
    });

    it('rejects a token without exp', async () => {
      await expect401(verifier, await sign(idp.rsa, { exp: undefined }));
    });

    it('rejects an unknown kid with 401 while the provider is up', async () => {
      await expect401(verifier, await sign(idp.rsa, {}, { kid: 'never-published' }));
      expect(server.requests).to.be.greaterThan(0);
    });

    it('rejects a signature by a different key under a known kid', async () => {
      await expect401(verifier, await sign(idp.forgedRsa));
    });

    it('rejects a tampered payload', async () => {
      const [header, , signature] = (await sign(idp.rsa)).split('.');
      const tampered = `${header}.${encodeSegment(claims({ tenant_id: 'other-tenant' }))}.${signature}`;
      await expect401(verifier, tampered);
    });

    it('rejects a malformed tenant_id and a token with neither tenant nor admin scope', async () => {
      await expect401(verifier, await sign(idp.rsa, { tenant_id: 'Not_A_Slug' }));
      await expect401(verifier, await sign(idp.rsa, { tenant_id: 12 }));
      await expect401(verifier, await sign(idp.rsa, { tenant_id: undefined, scope: 'tenant:read' }));
    });

    it('remembers a verified token only until it expires, and never for a look-alike', async () => {
      const strict = remoteVerifier(server, { clockToleranceSeconds: 0 });
      const token = await sign(idp.rsa, { exp: Math.floor(Date.now() / 1000) + 1 });
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
      const token = await sign(idp.rsa);
      await verifier.verify(token);
      server.keys = [idp.ec.publicJwk];
      // An unknown kid makes the verifier fetch the key set again, which no longer has rsa-1.
      await expect401(verifier, await sign(idp.rsa, {}, { kid: 'rotated-in' }));
      await expect401(verifier, token);
    });

    it('refuses bad options with a TypeError', () => {
      const base = { issuer: ISSUER, audience: AUDIENCE, keys: { jwksUrl: server.url } };
      const bad: unknown[] = [
        { ...base, keys: { jwksUrl: 'not a url' } },
        { ...base, keys: { jwksUrl: 'http://idp.example.test/jwks.json' } },
        { ...base, keys: { jwksUrl: 'ftp://127.0.0.1/jwks.json' } },
        { ...base, keys: {} },
        { ...base, keys: { jwksUrl: server.url, jwks: { keys: [idp.rsa.publicJwk] } } },
        { ...base, keys: { jwks: { keys: [] } } },
        { ...base, keys: { jwks: { keys: [{ ...idp.rsa.publicJwk, d: 'secret' }] } } },
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
      await esOnly.verify(await sign(idp.ec));
      await expect401(esOnly, await sign(idp.rsa));
    });
  });
});
