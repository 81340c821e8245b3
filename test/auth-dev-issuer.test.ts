import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { ADMIN_SCOPE, DEV_AUDIENCE, DEV_ISSUER, DevIssuer } from '../src/auth/index.js';
import { authRejection, expect401 } from './support/identity-provider.js';

describe('auth', () => {
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
      expect((await authRejection(issuer.mint({}))).status).to.equal(400);
      expect((await authRejection(issuer.mint({ tenantId: 'Bad Tenant' }))).status).to.equal(400);
    });
  });
});
