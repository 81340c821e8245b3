import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { decodeJwt } from 'jose';
import type { Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors/index.js';
import { consoleRoutes } from '../../src/http/console-config.js';
import { CONSOLE_CSP } from '../../src/http/security-headers.js';
import {
  ensureConsoleBuilt,
  launchBrowser,
  screenshot,
  seriousAccessibilityViolations,
  type TestBrowser,
} from '../support/browser.js';
import { type ChildService, startTenantctl } from '../support/child-service.js';
import { freePort } from '../support/free-port.js';
import { addManagedServer } from '../support/managed-admin.js';
import { API_AUDIENCE, startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';
import { seedCatalogTenants } from './seed-tenants.js';

const CLIENT_ID = 'tenantplane-console';
/** Where the console keeps the signed-in token (console/src/api/session.ts). */
const TOKEN_KEY = 'tenantplane.console.token';

describe('console configuration for the identity provider', () => {
  const provider = {
    AUTH_JWKS_URL: 'https://idp.example.test/jwks',
    AUTH_ISSUER: 'https://idp.example.test',
    AUTH_AUDIENCE: API_AUDIENCE,
  };

  it('is refused at start without AUTH_ISSUER, or with an issuer the browser could not safely reach', () => {
    expect(() => loadConfig({ CONSOLE_OIDC_CLIENT_ID: CLIENT_ID })).to.throw(
      ConfigError,
      /needs AUTH_ISSUER/,
    );
    expect(() =>
      loadConfig({ ...provider, AUTH_ISSUER: 'http://idp.example.test', CONSOLE_OIDC_CLIENT_ID: CLIENT_ID }),
    ).to.throw(ConfigError, /https/);
    expect(() => loadConfig({ ...provider, AUTH_ISSUER: 'idp', CONSOLE_OIDC_CLIENT_ID: CLIENT_ID })).to.throw(
      ConfigError,
      /to be a URL/,
    );
    expect(() => loadConfig({ ...provider, CONSOLE_OIDC_SCOPE: 'openid' })).to.throw(
      ConfigError,
      /CONSOLE_OIDC_SCOPE needs CONSOLE_OIDC_CLIENT_ID/,
    );
    expect(() =>
      loadConfig({ ...provider, CONSOLE_OIDC_CLIENT_ID: CLIENT_ID, CONSOLE_OIDC_SCOPE: 'openid "admin"' }),
    ).to.throw(ConfigError, /CONSOLE_OIDC_SCOPE/);
  });

  it("is null in the console's settings when not set, and the console's CSP reaches no other origin", async () => {
    const server = express()
      .use('/console', consoleRoutes(loadConfig({}).auth))
      .listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const settings = await fetch(`${base}/console/config.json`);
      expect(await settings.json()).to.deep.equal({ oidc: null });
      const page = await fetch(`${base}/console/`);
      expect(page.headers.get('content-security-policy')).to.equal(CONSOLE_CSP);
    } finally {
      server.close();
    }
  });

  it('asks for openid and tenantplane:admin unless told otherwise', () => {
    expect(loadConfig({ ...provider, CONSOLE_OIDC_CLIENT_ID: CLIENT_ID }).auth.consoleOidc).to.deep.equal({
      clientId: CLIENT_ID,
      scope: 'openid tenantplane:admin',
    });
    expect(loadConfig(provider).auth.consoleOidc).to.equal(undefined);
  });
});

/**
 * Sign-in through a real OpenID provider (oidc-provider, in this process) in Debian's Chromium, against a
 * `tenantctl serve` that accepts the provider's tokens: the authorization code flow with PKCE through the
 * provider's login and consent forms, back on the console signed in; an account the provider grants no
 * admin scope is refused on the sign-in page.
 */
describe('console sign-in through the identity provider', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let provider: TestOidcProvider;
  let serve: ChildService;
  let browser: TestBrowser;

  before(async function () {
    this.timeout(120000);
    ensureConsoleBuilt();
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main', 20);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await seedCatalogTenants(plane.tp.catalog.knex, { count: 3, prefix: 'cust', databaseId: 'shard-a' });
    // The provider must know the console's redirect URI, and the service the provider's issuer.
    const port = await freePort();
    provider = await startOidcProvider({
      clientId: CLIENT_ID,
      redirectUri: `http://127.0.0.1:${port}/console/`,
    });
    serve = await startTenantctl(
      ['serve'],
      plane.cliEnv({
        PORT: String(port),
        AUTH_JWKS_URL: provider.jwksUrl,
        AUTH_ISSUER: provider.issuer,
        AUTH_AUDIENCE: API_AUDIENCE,
        CONSOLE_OIDC_CLIENT_ID: CLIENT_ID,
        RATE_LIMITS: 'off',
        SHUTDOWN_GRACE_MS: '1000',
      }),
      'tenantplane listening',
    );
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await provider?.close();
    await plane?.close();
  });

  /** The provider's development login (any account name, any password) and its consent form. */
  async function signInAtProvider(page: Page, account: string): Promise<void> {
    const providerHost = new URL(provider.issuer).host;
    await page.getByRole('button', { name: `Sign in with ${providerHost}` }).click();
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.getByPlaceholder('Enter any login').fill(account);
    await page.getByPlaceholder('and password').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  function storedToken(page: Page): Promise<string | null> {
    return page.evaluate(`sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)})`);
  }

  it("names the provider and the console's public client, and lets the console reach that origin only", async () => {
    const settings = await fetch(`${serve.base}/console/config.json`);
    expect(settings.status).to.equal(200);
    expect(await settings.json()).to.deep.equal({
      oidc: {
        issuer: provider.issuer,
        client_id: CLIENT_ID,
        scope: 'openid tenantplane:admin',
        audience: API_AUDIENCE,
      },
    });
    const page = await fetch(`${serve.base}/console/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).to.include(`connect-src 'self' ${provider.issuer};`);
    expect(csp).to.include("script-src 'self';");
  });

  it('signs in through the provider with PKCE and lands on the tenants page, no code or token in the URL', async () => {
    const tab = await browser.newPage();
    const { page } = tab;
    await page.goto(`${serve.base}/console/`);
    await page.getByRole('heading', { name: 'Sign in to the tenantplane console' }).waitFor();
    await page.getByRole('button', { name: /^Sign in with / }).waitFor();
    expect(await seriousAccessibilityViolations(page), 'axe on the sign-in page').to.deep.equal([]);
    await screenshot(page, 'oidc-sign-in');

    await signInAtProvider(page, 'ops-alice');
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.getByRole('link', { name: 'cust-00001' }).waitFor();
    await page.getByText('ops-alice · tenantplane:admin').waitFor();
    await screenshot(page, 'oidc-signed-in');

    // The browser asked with an S256 challenge, and the code and state are gone from the address bar.
    const authorization = tab.requests.find((url) => url.startsWith(`${provider.issuer}/auth?`));
    expect(authorization, 'the authorization request').to.be.a('string');
    const query = new URL(authorization!).searchParams;
    expect(query.get('code_challenge_method')).to.equal('S256');
    expect(query.get('code_challenge')).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(query.get('redirect_uri')).to.equal(`${serve.base}/console/`);
    expect(page.url()).to.equal(`${serve.base}/console/`);

    // What was kept is the provider's access token for the API, carrying the admin scope, in no URL.
    const token = await storedToken(page);
    expect(token).to.be.a('string');
    expect(decodeJwt(token!)).to.include({
      iss: provider.issuer,
      aud: API_AUDIENCE,
      sub: 'ops-alice',
      scope: 'tenantplane:admin',
    });
    expect(tab.requests.filter((url) => url.includes(token!))).to.deep.equal([]);
    expect(tab.cspViolations).to.deep.equal([]);
    await page.close();
  });

  it('refuses, on the sign-in page, an account the provider grants no admin scope', async () => {
    // A new sign-in at the provider, not the session the previous test left there.
    await browser.context.clearCookies();
    const { page } = await browser.newPage();
    await page.goto(`${serve.base}/console/`);
    await signInAtProvider(page, 'guest-eve');
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).to.include("The identity provider's token was not accepted");
    expect(await refusal.textContent()).to.include('admin scope');
    await page.getByRole('heading', { name: 'Sign in to the tenantplane console' }).waitFor();
    expect(await storedToken(page)).to.equal(null);
    expect(page.url()).to.equal(`${serve.base}/console/`);
    await page.close();
  });

  it('reports a sign-in cancelled at the provider, and keeps nothing', async () => {
    await browser.context.clearCookies();
    const { page } = await browser.newPage();
    await page.goto(`${serve.base}/console/`);
    await page.getByRole('button', { name: /^Sign in with / }).click();
    await page.getByRole('link', { name: '[ Cancel ]' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).to.include(
      'the identity provider refused: End-User aborted interaction',
    );
    expect(await storedToken(page)).to.equal(null);
    expect(page.url()).to.equal(`${serve.base}/console/`);
    await page.close();
  });
});
