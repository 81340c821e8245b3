import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { screenshot, seriousAccessibilityViolations } from './browser.js';

/** The page passes axe-core's serious and critical rules, and is kept as test-results/<name>.png. */
export async function checkConsolePage(page: Page, name: string): Promise<void> {
  expect(await seriousAccessibilityViolations(page), `axe on ${name}`).to.deep.equal([]);
  await screenshot(page, name);
}

/** A link of the console's section navigation (a page may link to a section too). */
export function consoleSection(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name });
}

/** Opens the console at `base` and signs in with a pasted token, landing on the Tenants page. */
export async function signInToConsole(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Tenants' }).waitFor();
}

/** Finds tenant `id` on the Tenants page and opens its page. */
export async function openTenantPage(page: Page, id: string): Promise<void> {
  await page.getByLabel('Search id or name').fill(id);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: id }).click();
  await page.getByRole('heading', { name: `Tenant ${id}` }).waitFor();
}
