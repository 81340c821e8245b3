import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { type RunningWorkers, startWorkers } from '../../src/jobs/bullmq-job-queue.js';
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
import { addManagedServer } from '../support/managed-admin.js';
import { removeQueueKeys } from '../support/redis-keys.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';

/** Jobs that wait (no worker runs this queue here): more than one page of the list. */
const WAITING_QUEUE = 'shard-rebalance';
const WAITING_JOBS = 60;
/** Jobs run by a worker of the test's that fails them. */
const FAILING_QUEUE = 'server-drain';

/**
 * The console's Jobs page in Chromium against a real `tenantctl serve` on BullMQ, signed in as a viewer:
 * paging, the queue and state filters typed and submitted from the keyboard, a failed job's error and the
 * link to its tenant; checked by axe-core and kept as test-results/jobs.png.
 */
describe('console Jobs page in a browser', function () {
  this.timeout(90000);
  let plane: TestPlane;
  let serve: ChildService;
  let workers: RunningWorkers;
  let browser: TestBrowser;
  let tab: RecordedPage;
  let jobsPrefix: string;

  before(async function () {
    this.timeout(180000);
    ensureConsoleBuilt();
    jobsPrefix = `console-jobs-${randomBytes(4).toString('hex')}`;
    plane = await createTestPlane({ jobsPrefix }, { REDIS_URL: TEST_REDIS_URL, RATE_LIMITS: 'off' });
    await addManagedServer(plane, 'pg-main', 20);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme-corp', name: 'Acme Corporation', tier: 'starter' }, TEST_ACTOR);
    for (let n = 0; n < WAITING_JOBS; n++) {
      await plane.tp.jobs.enqueue(WAITING_QUEUE, {}, { jobId: `waiting-${String(n).padStart(2, '0')}` });
    }
    workers = startWorkers({
      redisUrl: TEST_REDIS_URL,
      prefix: jobsPrefix,
      handlers: {
        [FAILING_QUEUE]: async () => {
          throw new Error('the server is unreachable');
        },
      },
      concurrency: 1,
      logger: plane.tp.logger,
    });
    await plane.tp.jobs.enqueue(
      FAILING_QUEUE,
      { tenantId: 'acme-corp' },
      { jobId: 'drain-acme', attempts: 1 },
    );
    await plane.tp.jobs.wait(FAILING_QUEUE, 'drain-acme').catch(() => {});
    serve = await startTenantctl(
      ['serve'],
      plane.cliEnv({ PORT: '0', REDIS_URL: TEST_REDIS_URL, JOBS_PREFIX: jobsPrefix, RATE_LIMITS: 'off' }),
      'tenantplane listening',
    );
    browser = await launchBrowser();
    tab = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await workers?.close();
    await plane?.close();
    await removeQueueKeys(jobsPrefix);
  });

  function jobRows(page: Page) {
    return page.getByRole('table', { name: 'Jobs' }).locator('tbody tr');
  }

  /** Types the filters and submits them with Enter, as someone at the keyboard does. */
  async function filterFromKeyboard(page: Page, queue: string, state: string): Promise<void> {
    const queueField = page.getByLabel('Queue');
    await queueField.focus();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type(queue);
    await page.keyboard.press('Tab');
    expect(await page.locator('#job-state:focus').count(), 'Tab moves from the queue to the state').to.equal(
      1,
    );
    await page.getByLabel('State').selectOption(state);
    await queueField.press('Enter');
  }

  it('lists the jobs newest first a page at a time, filtered from the keyboard', async () => {
    const { page } = tab;
    await page.goto(`${serve.base}/console/`);
    await page
      .getByLabel('Admin token')
      .fill(await plane.mint({ scopes: ['tenantplane:viewer'], subject: 'v' }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    await jobRows(page).nth(49).waitFor();

    await filterFromKeyboard(page, WAITING_QUEUE, '');
    // The newest waiting job first; 50 on the first page, the other 10 on the next.
    await jobRows(page).first().getByText('waiting-59').waitFor();
    expect(await jobRows(page).count()).to.equal(50);
    await page.getByRole('button', { name: 'Next page' }).click();
    await jobRows(page).first().getByText('waiting-09').waitFor();
    expect(await jobRows(page).count()).to.equal(10);
    expect(await jobRows(page).last().textContent()).to.include('waiting-00');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await jobRows(page).first().getByText('waiting-59').waitFor();
  });

  it('shows a failed job with its error and links to its tenant', async () => {
    const { page } = tab;
    await filterFromKeyboard(page, FAILING_QUEUE, 'failed');
    const row = jobRows(page).filter({ hasText: 'drain-acme' });
    await row.getByText('the server is unreachable').waitFor();
    await jobRows(page).nth(1).waitFor({ state: 'detached' });
    expect(await row.textContent()).to.include('failed');
    expect(await seriousAccessibilityViolations(page), 'axe on jobs').to.deep.equal([]);
    await screenshot(page, 'jobs');
    expect(tab.cspViolations).to.deep.equal([]);

    await row.getByRole('link', { name: 'acme-corp' }).click();
    await page.getByRole('heading', { name: 'Tenant acme-corp' }).waitFor();
  });

  it('says why when the server refuses a filter', async () => {
    const { page } = tab;
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Jobs' }).click();
    await filterFromKeyboard(page, 'no-such-queue', '');
    await page.getByRole('alert').getByText('invalid_query').waitFor();
  });
});
