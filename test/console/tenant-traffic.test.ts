import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  ensureConsoleBuilt,
  launchBrowser,
  type RecordedPage,
  screenshot,
  seriousAccessibilityViolations,
  type TestBrowser,
} from '../support/browser.js';
import { callJson } from '../support/http-client.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';

/**
 * The Tenant page's traffic of the last 24 hours in Chromium: real application requests, metered and
 * flushed by the serving instance, appear in the chart's summary and in the table of hours.
 */
describe('operator console: tenant traffic over time', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let browser: TestBrowser;
  let tab: RecordedPage;

  before(async () => {
    ensureConsoleBuilt();
    plane = await createTestPlane({}, { USAGE_FLUSH_INTERVAL_MS: '200', RATE_LIMITS: 'off' });
    await plane.addServer('pg-main', 40);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
    base = await plane.listen();
    browser = await launchBrowser();
    tab = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await plane?.close();
  });

  it("shows the tenant's metered requests, errors and database time per hour, accessibly", async () => {
    const token = await plane.mint({ tenantId: 'acme' });
    const statuses: number[] = [];
    for (const url of [
      '/api/v1/deployments',
      '/api/v1/deployments',
      '/api/v1/deployments',
      '/api/v1/deployments/no-such-one',
    ]) {
      statuses.push((await callJson(base, token, 'GET', url)).status);
    }
    expect(statuses).to.deep.equal([200, 200, 200, 404]);
    // Counts reach the catalog with the next flush (every 200 ms here): wait for them, then open the page.
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const [row] = await plane.tp.catalog
        .knex('tenant_usage')
        .where({ tenant_id: 'acme' })
        .sum({ requests: 'requests' });
      if (Number(row?.requests) >= 4) break;
      await sleep(100);
    }

    const { page } = tab;
    await page.goto(`${base}/console/`);
    await page.getByLabel('Admin token').fill(await plane.mint({ admin: true, subject: 'ops-alice' }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.getByRole('link', { name: 'acme' }).click();
    await page.getByRole('heading', { name: 'Tenant acme' }).waitFor();

    const chart = page.getByRole('img', { name: /^Last 24 hours:/ });
    await chart.waitFor();
    expect(await chart.getAttribute('aria-label')).to.match(
      /^Last 24 hours: 4 requests, 1 errors, database time per request \d+\.\d ms$/,
    );
    // Two bars per hour of the 24: requests and, over them, errors.
    expect(await chart.locator('rect').count()).to.equal(48);
    const table = page.getByRole('table', { name: 'Traffic per hour' });
    await table.waitFor();
    // The requests may straddle an hour's end, so the rows are added up.
    const rows = await Promise.all(
      (await table.locator('tbody tr').all()).map((row) => row.locator('td').allInnerTexts()),
    );
    expect(rows.length).to.be.within(1, 2);
    const total = (column: number) =>
      rows.reduce((sum, cells) => sum + Number.parseInt(cells[column]!, 10), 0);
    expect([total(1), total(2)]).to.deep.equal([4, 1]);
    for (const cells of rows) expect(cells[3]).to.match(/^\d+\.\d ms$/);

    expect(tab.cspViolations).to.deep.equal([]);
    expect(await seriousAccessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'tenant-traffic');
  });
});
