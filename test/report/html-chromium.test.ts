// The HTML report opened in headless Chromium (Debian's chromium via playwright-core): the key
// numbers, charts and tables render, sorting works, and the page makes no network request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumArgs, writeFixtureReport } from './html-fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM}: install Debian's chromium to run the HTML report check`;

test('HTML report renders in headless Chromium, self-contained', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-html-page-'));
  const file = join(dir, 'report.html');
  await writeFixtureReport(file);
  const profile = join(dir, 'profile');
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: chromiumArgs, headless: true });
  try {
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (req) => { if (!req.url().startsWith('file:')) requests.push(req.url()); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(file).href);
    assert.equal(await page.title(), 'mxward report: Direct Send traffic');
    // Issue 12: the answer and the fix are in the first screen, not 5,600 px down.
    const viewport = page.viewportSize()!;
    for (const selector of ['#headline-text', '#connectors .connector pre']) {
      const box = await page.locator(selector).first().boundingBox();
      assert.ok(box && box.y >= 0 && box.y + box.height <= viewport.height, `${selector} inside the first ${viewport.height} px: ${JSON.stringify(box)}`);
    }
    assert.match((await page.textContent('#headline-text')) ?? '', /^Enforcing Reject Direct Send would stop \d+ attack or unknown sources? \(\d+ messages?\) and cut off 2 authorised senders \(\d+ messages\) unless you add this connector:$/);
    assert.equal(await page.textContent('#total-rows'), '30');
    assert.equal(await page.textContent('#would-reject'), '19');
    assert.equal(await page.locator('#volume-chart rect').count() > 5, true, 'volume bars drawn');
    assert.equal(await page.locator('#sources-chart rect').count(), 5);
    const firstSource = async () => (await page.locator('#sources tbody tr').first().locator('td').first().textContent())?.trim();
    assert.equal(await firstSource(), '203.0.113.10', 'most rejected first');
    await page.click('#sources th:nth-child(1)');
    assert.equal(await firstSource(), '192.0.2.25', 'sorted by source ascending after a click');
    await page.click('#sources th:nth-child(1)');
    assert.equal(await firstSource(), '203.0.113.11', 'descending after a second click');
    assert.match((await page.textContent('#policy-yaml')) ?? '', /name: DirectSend-office-printers-203\.0\.113\.0-24/);
    assert.match((await page.textContent('#problems')) ?? '', /bad-date\.csv:3: field Received/);
    assert.match((await page.textContent('body')) ?? '', /New-InboundConnector -Name "DirectSend-office-printers-203\.0\.113\.0-24"/);
    assert.deepEqual(requests, [], 'no network fetch');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
  }
});
