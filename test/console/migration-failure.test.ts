import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { changeTierFeatures } from '../../src/catalog/feature-flags.js';
import { TEST_REDIS_URL } from '../setup/hooks.js';
import {
  ensureConsoleBuilt,
  launchBrowser,
  type RecordedPage,
  type TestBrowser,
} from '../support/browser.js';
import { type ChildService, startTenantctl } from '../support/child-service.js';
import {
  checkConsolePage,
  consoleSection,
  openTenantPage,
  signInToConsole,
} from '../support/console-pages.js';
import { callJson } from '../support/http-client.js';
import { addManagedServer } from '../support/managed-admin.js';
import {
  adminQuery,
  copyOfTenantMigrations,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from '../support/test-plane.js';

/** Long enough for a migration run on the busy test machine; the tests wait on what the page shows. */
const JOB_TIMEOUT_MS = 60000;

/**
 * The operator console in Chromium against a real `tenantctl serve` and `tenantctl worker` (Redis jobs) on
 * a catalog whose server has a managed-PostgreSQL admin: a fleet migration started from the Migrations
 * page fails on one tenant's database only, and the page marks that database failed with its error while
 * the others are up to date; a tenant's feature flags set from the Tenant page, and a viewer offered none
 * of it; the Fleet page's traffic per tier as metered from real requests.
 */
describe('operator console: a failing fleet migration and feature overrides', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let migrationsDir: string;
  let serve: ChildService;
  let worker: ChildService;
  let browser: TestBrowser;
  let adminToken: string;
  let viewerToken: string;
  let tab: RecordedPage;
  const databaseOf = (id: string) => `${plane.prefix}_t_${id.replaceAll('-', '_')}`;

  before(async function () {
    this.timeout(180000);
    ensureConsoleBuilt();
    migrationsDir = await copyOfTenantMigrations();
    plane = await createTestPlane({ tenantMigrationsDir: migrationsDir });
    await addManagedServer(plane, 'pg-main', 40);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of ['steady-co', 'broken-co']) {
      await plane.tp.tenants.create({ id, tier: 'enterprise' }, TEST_ACTOR);
    }
    await changeTierFeatures(plane.tp.catalog, 'enterprise', { 'beta-ui': true, sso: false }, TEST_ACTOR);
    // A migration every database takes but broken-co's, where it raises: its own database only.
    await writeFile(
      path.join(migrationsDir, '0003_deployment_note.sql'),
      `DO $$
BEGIN
  IF current_database() = '${databaseOf('broken-co')}' THEN
    RAISE EXCEPTION 'note column refused on this database';
  END IF;
END
$$;
ALTER TABLE deployments ADD COLUMN note text;
`,
    );
    adminToken = await plane.mint({ admin: true, subject: 'ops-alice' });
    viewerToken = await plane.mint({ scopes: ['tenantplane:viewer'], subject: 'viewer-bob' });
    const env = plane.cliEnv({
      PORT: '0',
      REDIS_URL: TEST_REDIS_URL,
      JOBS_PREFIX: `console-failure-${randomBytes(4).toString('hex')}`,
      RATE_LIMITS: 'off',
      SHUTDOWN_GRACE_MS: '2000',
      TENANT_MIGRATIONS_DIR: migrationsDir,
      USAGE_FLUSH_INTERVAL_MS: '200',
    });
    [serve, worker] = await Promise.all([
      startTenantctl(['serve'], env, 'tenantplane listening'),
      startTenantctl(['worker', '--health-port', '0'], env, 'worker started', 'healthPort'),
    ]);
    browser = await launchBrowser();
    tab = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    for (const child of [serve, worker]) {
      if (!child) continue;
      child.child.kill('SIGTERM');
      await child.exited;
    }
    await plane?.close();
    if (migrationsDir) await rm(migrationsDir, { recursive: true, force: true });
  });

  it('marks the one database a fleet migration failed on, with its error, and the others up to date', async () => {
    const { page } = tab;
    await signInToConsole(page, serve.base, adminToken);
    await consoleSection(page, 'Migrations').click();
    const databases = page.getByRole('table', { name: 'Migration status per database' });
    const rowOf = (databaseId: string) =>
      databases.getByRole('row').filter({ has: page.getByRole('cell', { name: databaseId, exact: true }) });
    await rowOf('tenant:broken-co').getByRole('cell', { name: 'pending', exact: true }).waitFor();

    await page.getByLabel('Dry run (report what would run, change nothing)').uncheck();
    await page.getByRole('button', { name: 'Start run' }).click();
    const outcome = page.getByRole('region', { name: 'Run outcome' });
    // shard-a and the dedicated databases of steady-co and broken-co.
    await outcome.getByText(/: failed, 3 databases, 1 failed\./).waitFor({ timeout: JOB_TIMEOUT_MS });
    const failedOn = outcome.getByRole('table', { name: 'Databases the run failed on' });
    await failedOn.getByRole('cell', { name: 'tenant:broken-co', exact: true }).waitFor();
    expect(await failedOn.locator('tbody tr').count()).to.equal(1);
    expect(await failedOn.locator('tbody td.error').innerText()).to.include('note column refused');

    const broken = rowOf('tenant:broken-co');
    await broken.getByRole('cell', { name: 'failed', exact: true }).waitFor();
    expect(await broken.innerText()).to.include('note column refused');
    for (const databaseId of ['tenant:steady-co', 'shard-a']) {
      await rowOf(databaseId).getByRole('cell', { name: 'up to date', exact: true }).waitFor();
    }
    // What the page says is what the databases hold: the column everywhere but on broken-co's.
    const hasNote = async (database: string) =>
      (
        await adminQuery(
          database,
          "SELECT 1 FROM information_schema.columns WHERE table_name = 'deployments' AND column_name = 'note'",
        )
      ).rowCount === 1;
    expect(await hasNote(databaseOf('steady-co'))).to.equal(true);
    expect(await hasNote(`${plane.prefix}_s_shard_a`)).to.equal(true);
    expect(await hasNote(databaseOf('broken-co'))).to.equal(false);
    await checkConsolePage(page, 'migrations-failed');
  });

  it("overrides a tier's flag for one tenant and shows it effective, refusing a malformed name", async () => {
    const { page } = tab;
    await consoleSection(page, 'Tenants').click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await openTenantPage(page, 'steady-co');
    const flags = page.getByRole('table', { name: 'Feature flags' });
    const rowOf = (flag: string) =>
      flags.getByRole('row').filter({ has: page.getByRole('cell', { name: flag, exact: true }) });
    // The tier's defaults load beside the tenant: wait for them before reading the row.
    await rowOf('sso').getByRole('cell', { name: 'tier', exact: true }).waitFor();
    expect((await rowOf('sso').locator('td').allInnerTexts()).slice(0, 4)).to.deep.equal([
      'sso',
      'off',
      'off',
      'tier',
    ]);
    expect((await rowOf('beta-ui').locator('td').allInnerTexts()).slice(0, 4)).to.deep.equal([
      'beta-ui',
      'on',
      'on',
      'tier',
    ]);

    await page.getByRole('button', { name: 'Turn sso on' }).click();
    await rowOf('sso').getByRole('cell', { name: 'override', exact: true }).waitFor();
    expect((await rowOf('sso').locator('td').allInnerTexts()).slice(0, 4)).to.deep.equal([
      'sso',
      'on',
      'off',
      'override',
    ]);

    await page.getByLabel('Flag name').fill('Bad Name');
    await page.getByRole('button', { name: 'Add override (on)' }).click();
    await page.getByRole('alert').getByText('A flag name is 3 to 40').waitFor();
    await page.getByLabel('Flag name').fill('audit-export');
    await page.getByRole('button', { name: 'Add override (on)' }).click();
    await rowOf('audit-export').getByRole('cell', { name: 'override', exact: true }).waitFor();

    const tenant = await plane.tp.catalog.requireTenant('steady-co');
    expect(tenant.featureOverrides).to.deep.equal({ 'audit-export': true, sso: true });
    const audited = await plane.tp.catalog
      .knex('audit_log')
      .where({ action: 'tenant.set_features', tenant_id: 'steady-co', actor: 'token:ops-alice' })
      .count<{ count: string }[]>('* as count');
    expect(audited).to.deep.equal([{ count: '2' }]);
    await checkConsolePage(page, 'tenant-features');

    await page.getByRole('button', { name: 'Remove override of sso' }).click();
    await rowOf('sso').getByRole('cell', { name: 'tier', exact: true }).waitFor();
    expect((await plane.tp.catalog.requireTenant('steady-co')).featureOverrides).to.deep.equal({
      'audit-export': true,
    });
  });

  it("shows on the Fleet page each tier's requests and errors of this hour, as metered from real requests", async () => {
    const token = await plane.mint({ tenantId: 'steady-co' });
    const statuses: number[] = [];
    for (const url of ['/api/v1/deployments', '/api/v1/deployments', '/api/v1/deployments/no-such-one']) {
      statuses.push((await callJson(serve.base, token, 'GET', url)).status);
    }
    expect(statuses).to.deep.equal([200, 200, 404]);
    // serve flushes its counts every 200 ms: wait for them in the catalog, then open the page.
    const metered = () =>
      plane.tp.catalog.knex('tenant_usage').where({ tenant_id: 'steady-co' }).sum({ requests: 'requests' });
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const [row] = await metered();
      if (Number(row?.requests) >= 3) break;
      await sleep(100);
    }
    const { page } = tab;
    await consoleSection(page, 'Fleet').click();
    const traffic = page.getByRole('table', { name: 'Traffic per tier' });
    const enterprise = traffic
      .getByRole('row')
      .filter({ has: page.getByRole('cell', { name: 'enterprise' }) });
    await enterprise.first().waitFor();
    // One row per hour: the requests may straddle an hour's end, so the rows are added up.
    const rows = await Promise.all((await enterprise.all()).map((row) => row.locator('td').allInnerTexts()));
    const total = (column: number) =>
      rows.reduce((sum, cells) => sum + Number.parseInt(cells[column]!, 10), 0);
    expect([total(2), total(3), total(4)]).to.deep.equal([3, 1, 0]);
    if (rows.length === 1) expect(rows[0]!.slice(3)).to.deep.equal(['1 (33.3 %)', '0 (0.0 %)']);
    await page.getByText('None: every scheduled tenant is backed up.').waitFor();
    await checkConsolePage(page, 'fleet-health');
  });
  it('shows a viewer the flags and offers no change', async () => {
    const viewer = await browser.newPage();
    const { page } = viewer;
    await signInToConsole(page, serve.base, viewerToken);
    await openTenantPage(page, 'steady-co');
    const flags = page.getByRole('table', { name: 'Feature flags' });
    await flags.getByRole('cell', { name: 'audit-export', exact: true }).waitFor();
    expect(await flags.getByRole('columnheader').allInnerTexts()).to.deep.equal([
      'Flag',
      'Effective',
      'Tier default',
      'Source',
    ]);
    expect(
      await page.getByRole('button', { name: /^Turn |^Remove override|^Add override/ }).count(),
    ).to.equal(0);
    expect(await page.getByLabel('Flag name').count()).to.equal(0);
    await page.close();
  });
});
