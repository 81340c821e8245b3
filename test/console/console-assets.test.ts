import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { CONSOLE_DIST_DIR } from '../../src/http/console-assets.js';
import { API_CSP, CONSOLE_CSP } from '../../src/http/security-headers.js';
import { ensureConsoleBuilt } from '../support/browser.js';
import { createTestPlane, type TestPlane } from '../support/test-plane.js';

/** What /console answers, and the security headers of the console and of the API. */
describe('console assets and security headers', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let script: string;

  const get = (path: string) => fetch(`${base}${path}`, { redirect: 'manual' });

  before(async () => {
    ensureConsoleBuilt();
    const assets = await readdir(path.join(CONSOLE_DIST_DIR, 'assets'));
    script = assets.find((name) => name.endsWith('.js'))!;
    plane = await createTestPlane();
    base = await plane.listen();
  });
  after(async () => plane.close());

  it('redirects /console to /console/, which is the page, never cached, under the strict CSP', async () => {
    const bare = await get('/console');
    expect(bare.status).to.equal(301);
    expect(bare.headers.get('location')).to.equal('/console/');
    const page = await get('/console/');
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(page.headers.get('cache-control')).to.equal('no-cache');
    expect(page.headers.get('content-security-policy')).to.equal(CONSOLE_CSP);
    const html = await page.text();
    expect(html).to.include(`/console/assets/${script}`);
    // No inline script for the CSP to refuse: every script is a file of the console's own.
    expect(html).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it("answers the page for the console's own routes and 404 for a missing asset", async () => {
    const route = await get('/console/tenants/acme-corp');
    expect(route.status).to.equal(200);
    expect(await route.text()).to.include('<div id="root">');
    expect((await get('/console/assets/index-missing.js')).status).to.equal(404);
    expect((await get('/console/favicon.ico')).status).to.equal(404);
  });

  it('caches hashed assets for good', async () => {
    const asset = await get(`/console/assets/${script}`);
    expect(asset.status).to.equal(200);
    expect(asset.headers.get('content-type')).to.match(/javascript/);
    expect(asset.headers.get('cache-control')).to.equal('public, max-age=31536000, immutable');
  });

  it('puts the usual security headers on the console and the API, with a restrictive CSP on the API', async () => {
    for (const path of ['/console/', '/admin/v1/tenants', '/health', '/openapi.json']) {
      const answer = await get(path);
      expect(answer.headers.get('x-content-type-options'), path).to.equal('nosniff');
      expect(answer.headers.get('referrer-policy'), path).to.equal('no-referrer');
      expect(answer.headers.get('x-frame-options'), path).to.equal('DENY');
      expect(answer.headers.get('content-security-policy'), path).to.equal(
        path === '/console/' ? CONSOLE_CSP : API_CSP,
      );
    }
  });
});
