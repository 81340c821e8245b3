import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  expect401,
  expect503,
  fakeIdentityProvider,
  remoteVerifier,
  sign,
} from './support/identity-provider.js';

describe('auth', () => {
  const idp = fakeIdentityProvider();

  describe('identity provider outages', () => {
    it('keeps verifying with a warm cache while the provider errors or is gone', async () => {
      const server = await idp.jwksServer();
      const verifier = remoteVerifier(server);
      const token = await sign(idp.rsa);
      await verifier.verify(token);

      server.mode = 'error';
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
      await server.close();
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
    });

    it('serves the last known key past the cache age while the provider is down, within the stale window', async () => {
      const server = await idp.jwksServer();
      const verifier = remoteVerifier(server, { keyCacheMaxAgeMs: 100, staleKeyMaxAgeMs: 5000 });
      const token = await sign(idp.ec);
      await verifier.verify(token);
      server.mode = 'error';
      await sleep(200);

      const before = server.requests;
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
      // The cache had expired, so the provider was asked and failed: the fallback did the work.
      expect(server.requests).to.be.greaterThan(before);
    });

    it('answers 503, not 401, when the provider is down and no key was ever fetched', async () => {
      const server = await idp.jwksServer();
      await server.close();
      const verifier = remoteVerifier(server);
      await expect503(verifier, await sign(idp.rsa));
    });

    it('answers 503 when the provider answers 5xx on a cold cache', async () => {
      const server = await idp.jwksServer();
      server.mode = 'error';
      await expect503(remoteVerifier(server), await sign(idp.rsa));
    });

    it('gives up on a hanging provider after jwksTimeoutMs with 503', async () => {
      const server = await idp.jwksServer();
      server.mode = 'hang';
      const verifier = remoteVerifier(server, { jwksTimeoutMs: 200 });
      const started = Date.now();
      await expect503(verifier, await sign(idp.rsa));
      expect(Date.now() - started).to.be.lessThan(2000);
    });

    it('answers 503 once the last known key is older than the stale window, and recovers', async () => {
      const server = await idp.jwksServer();
      const verifier = remoteVerifier(server, { keyCacheMaxAgeMs: 50, staleKeyMaxAgeMs: 200 });
      const token = await sign(idp.rsa);
      await verifier.verify(token);
      server.mode = 'error';
      await sleep(400);
      await expect503(verifier, token);

      server.mode = 'ok';
      expect((await verifier.verify(token)).tenantId).to.equal('acme');
    });

    it('rate-limits refetches caused by unknown kids', async () => {
      const limit = 4;
      const server = await idp.jwksServer();
      const verifier = remoteVerifier(server, { jwksRequestsPerMinute: limit });
      const good = await sign(idp.rsa);
      await verifier.verify(good);

      const forged = await Promise.all(
        Array.from({ length: 25 }, () => sign(idp.rsa, {}, { kid: randomUUID() })),
      );
      for (const token of forged.slice(0, 10)) await expect401(verifier, token);
      await Promise.all(forged.slice(10).map((token) => expect401(verifier, token)));

      expect(server.requests).to.be.greaterThan(1);
      expect(server.requests).to.be.at.most(limit + 1);
      // A key that is already cached does not need a fetch, so the exhausted limit does not hurt it.
      expect((await verifier.verify(good)).tenantId).to.equal('acme');
    });
  });
});
