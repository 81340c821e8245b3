import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { CONSOLE_DIST_DIR } from '../../src/http/console-assets.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

/** Debian's Chromium, which .ci/run installs when it is missing. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Nothing in the background that would reach the network or change between runs. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the browser tests leave their screenshots for review (ignored by git). */
export const TEST_RESULTS_DIR = path.join(PACKAGE_ROOT, 'test-results');

/** Builds the console once when dist/console is missing (tests run from source; Vite takes seconds). */
export function ensureConsoleBuilt(): void {
  if (existsSync(path.join(CONSOLE_DIST_DIR, 'index.html'))) return;
  execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '-c', 'console/vite.config.ts'], {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** A Chromium with a fresh profile of its own; close() ends it and removes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  /** A new tab that records every request it makes and every Content-Security-Policy violation. */
  newPage(): Promise<RecordedPage>;
  close(): Promise<void>;
}

export interface RecordedPage {
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Console messages about a Content-Security-Policy violation. */
  cspViolations: string[];
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_FLAGS,
    headless: true,
    // A laptop screen.
    viewport: { width: 1366, height: 768 },
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const recorded: RecordedPage = { page, requests: [], cspViolations: [] };
      page.on('request', (request) => recorded.requests.push(request.url()));
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) recorded.cspViolations.push(message.text());
      });
      return recorded;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** One axe-core rule the page breaks, as the test shows it. */
export interface AccessibilityViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in the page and answers its serious and critical violations. axe is evaluated through the
 * DevTools protocol rather than added as a script tag: the console's CSP rightly refuses inline scripts.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<AccessibilityViolation[]> {
  const axeSource = await readFile(path.join(PACKAGE_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  // A string, not a function: the test's compiler would add helpers to a function that the page lacks.
  return page.evaluate<AccessibilityViolation[]>(`axe.run().then((result) => result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    })))`);
}

/** Saves a full-page screenshot as test-results/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(TEST_RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(TEST_RESULTS_DIR, `${name}.png`), fullPage: true });
}
