import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { TEST_REDIS_URL } from '../setup/hooks.js';
import {
  ensureConsoleBuilt,
  launchBrowser,
  type RecordedPage,
  screenshot,
  seriousAccessibilityViolations,
  type TestBrowser,
} from '../support/browser.js';
import { type ChildService, startTenantctl } from '../support/child-service.js';
import { openTenantPage, signInToConsole } from '../support/console-pages.js';
import { callJson } from '../support/http-client.js';
import { addManagedServer } from '../support/managed-admin.js';
import { tenantQuery } from '../support/tenant-rows.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';

const TENANT = 'orbit-co';
/** One more than the console's page of 20, so the second page is reached through its cursor. */
const DEPLOYMENTS = 21;
const REASON = 'ticket 5120: deployments missing from the dashboard';

/**
 * The operator console's "View as tenant" in Chromium against two `tenantctl serve` instances on one
 * catalog whose server has a managed-PostgreSQL admin: the tenant's rows are written through one
 * instance with the tenant's own token, a support operator views them through the other under the
 * impersonation banner, a write is refused by the server and audited, End forgets the token; a viewer is
 * not offered the view.
 */
describe('operator console: view as tenant', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let serve: ChildService;
  let writer: ChildService;
  let browser: TestBrowser;
  let supportToken: string;
  let viewerToken: string;
  let tab: RecordedPage;

  before(async function () {
    this.timeout(180000);
    ensureConsoleBuilt();
    plane = await createTestPlane();
    await addManagedServer(plane, 'pg-main', 40);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: TENANT, name: 'Orbit Company', tier: 'starter' }, TEST_ACTOR);
    supportToken = await plane.mint({ scopes: ['tenantplane:support'], subject: 'support-sam' });
    viewerToken = await plane.mint({ scopes: ['tenantplane:viewer'], subject: 'viewer-bob' });
    const env = plane.cliEnv({
      PORT: '0',
      REDIS_URL: TEST_REDIS_URL,
      JOBS_PREFIX: `console-impersonation-${randomBytes(4).toString('hex')}`,
      RATE_LIMITS: 'off',
      SHUTDOWN_GRACE_MS: '2000',
    });
    [serve, writer] = await Promise.all([
      startTenantctl(['serve'], env, 'tenantplane listening'),
      startTenantctl(['serve'], env, 'tenantplane listening'),
    ]);
    // The tenant's own application writes its rows, through the other instance.
    const tenantToken = await plane.mint({ tenantId: TENANT });
    for (let index = 1; index <= DEPLOYMENTS; index += 1) {
      const name = `web-${String(index).padStart(2, '0')}`;
      const created = await callJson(writer.base, tenantToken, 'POST', '/api/v1/deployments', {
        project_name: name,
        status: 'ready',
      });
      expect(created.status, name).to.equal(201);
    }
    for (const name of ['nightly-build', 'release']) {
      const created = await callJson(writer.base, tenantToken, 'POST', '/api/v1/workflows', {
        name,
        status: 'idle',
        config: { branch: 'main' },
      });
      expect(created.status, name).to.equal(201);
    }
    browser = await launchBrowser();
    tab = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    for (const child of [serve, writer]) {
      if (!child) continue;
      child.child.kill('SIGTERM');
      await child.exited;
    }
    await plane?.close();
  });

  /** Asks for the impersonation from the Tenant page and answers the token the server granted. */
  async function viewAsTenant(page: Page): Promise<string> {
    await page.getByLabel('Reason (recorded in the audit log)').fill(REASON);
    const granted = page.waitForResponse((response) => response.url().endsWith('/impersonations'));
    await page.getByRole('button', { name: 'View as tenant' }).click();
    const answer = await granted;
    expect(answer.status()).to.equal(201);
    return ((await answer.json()) as { token: string }).token;
  }

  function banner(page: Page) {
    return page.getByRole('complementary', { name: 'Impersonation' });
  }

  it("shows the tenant's rows under the banner, refuses a write, audits it all and forgets the token on End", async () => {
    const { page } = tab;
    await signInToConsole(page, serve.base, supportToken);
    await openTenantPage(page, TENANT);
    const token = await viewAsTenant(page);

    const status = banner(page).getByRole('status');
    await status.waitFor();
    expect(await status.innerText()).to.match(
      new RegExp(`^Viewing as ${TENANT} — read-only, as support-sam, expires at .+`),
    );
    const deployments = page.getByRole('table', { name: `Deployments of ${TENANT}` });
    const projectCells = deployments.locator('tbody tr td:first-child');
    await projectCells.nth(19).waitFor();
    expect(await projectCells.count()).to.equal(20);
    const workflows = page.getByRole('table', { name: `Workflows of ${TENANT}` });
    await workflows.getByRole('cell', { name: 'nightly-build', exact: true }).waitFor();
    expect(await workflows.locator('tbody tr').count()).to.equal(2);

    // The second page, through the cursor the first one gave.
    const firstPage = await projectCells.allInnerTexts();
    await page
      .getByRole('navigation', { name: 'Deployment pages' })
      .getByRole('button', { name: 'Next page' })
      .click();
    await page.getByRole('navigation', { name: 'Deployment pages' }).getByText('Page 2').waitFor();
    await deployments.locator('tbody tr').nth(0).waitFor();
    const secondPage = await projectCells.allInnerTexts();
    expect(secondPage).to.have.length(1);
    expect([...firstPage, ...secondPage].sort()).to.deep.equal(
      Array.from({ length: DEPLOYMENTS }, (_, index) => `web-${String(index + 1).padStart(2, '0')}`),
    );
    await page
      .getByRole('navigation', { name: 'Deployment pages' })
      .getByRole('button', { name: 'Previous page' })
      .click();
    const shown = firstPage[0]!;
    await projectCells.nth(0).getByText(shown, { exact: true }).waitFor();

    // A write with the impersonation token: the server refuses it, and the row stays as it was.
    const target = await tenantQuery(plane.tp, TENANT, 'SELECT id FROM deployments WHERE project_name = $1', [
      shown,
    ]);
    const targetId = target.rows[0].id as string;
    await page.getByRole('button', { name: `Try a change to ${shown}` }).click();
    const refusal = deployments.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.innerText()).to.include('(403 read_only_role)');
    const row = await tenantQuery(plane.tp, TENANT, 'SELECT status FROM deployments WHERE id = $1', [
      targetId,
    ]);
    expect(row.rows).to.deep.equal([{ status: 'ready' }]);

    // The token stays in the page's memory: not in storage, the address or the service's log.
    const stored = await page.evaluate<string>(
      'JSON.stringify([{ ...sessionStorage }, { ...localStorage }])',
    );
    expect(stored).not.to.include(token);
    expect(page.url()).not.to.include(token);
    expect(serve.stderr()).not.to.include(token);
    expect(tab.requests.some((url) => url.includes(token))).to.equal(false);

    // The audit trail: the impersonation with its reason, and each request made with it, the refused
    // write included, with the operator as actor.
    const audit = (action: string) =>
      plane.tp
        .knex('audit_log')
        .where({ action, tenant_id: TENANT })
        .orderBy('id')
        .select('actor', 'details');
    const [started, ...others] = await audit('tenant.impersonation');
    expect(others).to.deep.equal([]);
    expect(started.actor).to.equal('token:support-sam');
    expect(started.details.reason).to.equal(REASON);
    const requests = (await audit('tenant.impersonation.request')).map(
      (entry) => `${entry.actor} ${entry.details.method} ${String(entry.details.path).split('?')[0]}`,
    );
    for (const expected of [
      'GET /api/v1/tenant',
      'GET /api/v1/deployments',
      'GET /api/v1/workflows',
      `PATCH /api/v1/deployments/${targetId}`,
    ]) {
      expect(requests, expected).to.include(`token:support-sam ${expected}`);
    }
    expect(new Set(requests.map((entry) => entry.split(' ')[0]))).to.deep.equal(
      new Set(['token:support-sam']),
    );

    expect(await seriousAccessibilityViolations(page), 'axe on view as tenant').to.deep.equal([]);
    // The banner is sticky: from the top, the full-page picture shows it where it belongs.
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'view-as-tenant');

    await banner(page).getByRole('button', { name: 'End' }).click();
    await banner(page).waitFor({ state: 'detached' });
    expect(await deployments.count()).to.equal(0);
    expect(await workflows.count()).to.equal(0);
    await page.getByLabel('Reason (recorded in the audit log)').waitFor();
  });

  it('forgets the view when the operator leaves the Tenant page', async () => {
    const { page } = tab;
    await viewAsTenant(page);
    await banner(page).waitFor();
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tenants' }).click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: `Tenant ${TENANT}` }).waitFor();
    await page.getByLabel('Reason (recorded in the audit log)').waitFor();
    expect(await banner(page).count()).to.equal(0);
  });

  it('does not offer a viewer to view as the tenant', async () => {
    const viewer = await browser.newPage();
    const { page } = viewer;
    await signInToConsole(page, serve.base, viewerToken);
    await openTenantPage(page, TENANT);
    await page.getByRole('table', { name: `Audit trail of ${TENANT}` }).waitFor();
    expect(await page.getByRole('button', { name: 'View as tenant' }).count()).to.equal(0);
    expect(await page.getByLabel('Reason (recorded in the audit log)').count()).to.equal(0);
    await page.close();
  });
});
