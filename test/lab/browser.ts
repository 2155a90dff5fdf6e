/**
 * A real browser for the status page tests: Debian's `chromium` (apt-get install chromium; CI's
 * .ci/run installs it) driven by playwright-core — playwright's own browser downloads cannot be
 * reached here. Headless, no sandbox (root in CI), no network of its own (no component updates,
 * no sync, no QUIC), a fresh profile each time. Every console error and every request the page
 * makes is recorded, so a test can assert there are none beyond the page itself.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface OpenedPage {
  page: Page;
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  /** Every URL the page requested, the page itself first. */
  requests: string[];
  close(): Promise<void>;
}

/** Chromium with a fresh profile (playwright takes --user-data-dir as a persistent context). */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (CI's .ci/run installs it)`);
  const profile = await mkdtemp(path.join(tmpdir(), 'dialer-audit-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Opens `url` in a new tab of `context`, recording errors and requests from before it loads. */
export async function openPage(context: BrowserContext, url: string): Promise<OpenedPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors, requests, close: () => page.close() };
}

/** A PNG of the page (the README's screenshot is made with this from a lab run). */
export async function screenshot(page: Page, file: string, opts: { fullPage?: boolean } = {}): Promise<void> {
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? true, animations: 'disabled' });
}
