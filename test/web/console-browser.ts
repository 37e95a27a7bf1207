// The web console in real headless Chromium (Debian's chromium driven by playwright-core), for
// the console-*.test.ts files: a gateway with its console on HTTPS (the gateway's self-signed
// certificate), a fresh browser profile, and a record of every request that left the gateway's
// origin (there must be none: the console needs no network but mxward) and every script error.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { repoRoot } from '../helpers/commands.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { WebGateway, WebGatewayOptions } from '../helpers/web-client.ts';
import { chromiumArgs } from '../report/html-fixture.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** Skipped only on a developer machine without chromium; on CI (CI=true) the launch fails the test. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) || process.env.CI === 'true'
  ? false
  : `no ${CHROMIUM}: install Debian's chromium to run the console browser tests`;

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

export interface ConsoleBrowser {
  gateway: WebGateway;
  context: BrowserContext;
  page: Page;
  /** Requests to anything but the gateway's console origin. */
  foreignRequests: string[];
  /** Uncaught exceptions in the page, console files that failed to load, and anything the CSP refused. */
  pageErrors: string[];
  /** `/console/#/trace` → the full URL on the gateway. */
  url(hashPath?: string): string;
}

/** Starts a gateway (console on TLS) and a browser; both are stopped in t.after, even on failure. */
export async function openConsole(t: TestContext, options: WebGatewayOptions = {}, viewport = DESKTOP): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`CI=true and no ${CHROMIUM}: the console browser tests need Debian's chromium (.ci/run installs it)`);
  const gateway = await startWebGateway({ tls: true, ...options });
  let profile: string | null = null;
  let context: BrowserContext | null = null;
  // One hook, in this order: the browser lets go of its connections before the server stops.
  t.after(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await gateway.close();
  });
  profile = await mkdtemp(join(tmpdir(), 'mxward-console-profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: chromiumArgs, headless: true, ignoreHTTPSErrors: true, viewport,
  });
  const browser = context;
  const page = browser.pages()[0] ?? await browser.newPage();
  const origin = new URL(gateway.url).origin;
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  browser.on('request', (req) => { if (new URL(req.url()).origin !== origin) foreignRequests.push(req.url()); });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // A file of the console itself (not an API answer, whose errors the views show) that is missing.
  page.on('response', (r) => { if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/api/')) pageErrors.push(`${r.status()} ${r.url()}`); });
  // Something the CSP refused (an inline style or script) would fail quietly in the page: make it loud.
  page.on('console', (m) => { if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) pageErrors.push(m.text()); });
  // Deleting and denying ask first; the tests mean it.
  page.on('dialog', (d) => { void d.accept(); });
  return { gateway, context: browser, page, foreignRequests, pageErrors, url: (hashPath = '') => `${gateway.url}/console/${hashPath ? `#/${hashPath}` : ''}` };
}

/** Signs in through the form, as a console account or (recipient) a mailbox user. */
export async function signIn(page: Page, username: string, password: string, kind: 'console' | 'recipient' = 'console'): Promise<void> {
  await page.waitForSelector('#sign-in-form');
  if (kind === 'recipient') await page.check('#kind-recipient');
  await page.fill('#sign-in-username', username);
  await page.fill('#sign-in-password', password);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#who-role');
}

/**
 * A full-page screenshot. Written to docs/console-<name>.png only when MXWARD_CONSOLE_SCREENSHOTS=1
 * (the images in docs are refreshed on purpose, not by every test run); always taken, so a page
 * that cannot be drawn fails the test either way.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true });
  if (png.length === 0) throw new Error(`empty screenshot ${name}`);
  if (process.env.MXWARD_CONSOLE_SCREENSHOTS !== '1') return;
  const dir = join(repoRoot, 'docs');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `console-${name}.png`), png);
}

/** Elements that stick out of the page sideways (wide tables scroll inside their own box instead). */
export function tooWide(page: Page, width: number): Promise<string[]> {
  return page.evaluate((w) => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))
    .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${String(e.className)}: ${Math.round(e.getBoundingClientRect().right)}`), width);
}

/** Form controls without a label a screen reader can read out. */
export function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label'))
    .map((e) => e.outerHTML.slice(0, 120)));
}

/** Our own domain contoso.test, with both Direct Send checks in one mode. */
export const contoso = (doc: PolicyDocument, mode: 'report' | 'enforce' | 'off'): PolicyDocument => ({
  ...doc, rejectDirectSend: mode, rejectDirectSendHeaderFrom: mode,
  acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
});
