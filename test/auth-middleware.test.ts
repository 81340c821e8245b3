import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import express, { type ErrorRequestHandler } from 'express';
import { authenticate, DevIssuer, requireAdmin } from '../src/auth/index.js';
import { TenantplaneError } from '../src/errors/index.js';
import { closer, fakeIdentityProvider, listen, remoteVerifier, sign } from './support/identity-provider.js';

describe('auth', () => {
  const idp = fakeIdentityProvider();

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
      idp.closeAfterTest({ close: closer(server) });
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

    it('answers 403 insufficient_scope on an admin route with a tenant token', async () => {
      const tenant = await get('/admin', `Bearer ${await issuer.mint({ tenantId: 'acme' })}`);
      expect(tenant.status).to.equal(403);
      expect(tenant.body.error?.code).to.equal('insufficient_scope');
      expect(tenant.headers.get('www-authenticate')).to.include('scope="tenantplane:admin"');

      const admin = await get('/admin', `Bearer ${await issuer.mint({ admin: true })}`);
      expect(admin.status).to.equal(200);
      expect(admin.body).to.deep.equal({ ok: true });
    });

    it('answers 503 through the middleware when the identity provider is down', async () => {
      const jwks = await idp.jwksServer();
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
      idp.closeAfterTest({ close: closer(server) });

      const response = await fetch(`${url}/whoami`, {
        headers: { authorization: `Bearer ${await sign(idp.rsa)}` },
      });
      expect(response.status).to.equal(503);
      expect(await response.json()).to.deep.equal({ error: { code: 'auth_provider_unavailable' } });
    });
  });
});
