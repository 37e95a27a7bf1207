// A hostile sender against the console's users, in real headless Chromium (issue 13): a held
// message whose Subject, From and body carry HTML and script, and an uploaded export whose file
// name does, shown to an administrator (quarantine list and detail, preview, headers, message
// trace) and to the recipient through a signed link. Nothing may run and nothing may become
// markup: the text is shown as text, no element with an event handler appears, and the
// Content-Security-Policy never has to refuse anything (a refusal would mean the console tried).
// The API's text answers opened directly in a tab are plain text, not a page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { hold, holdByTag } from './api-attack-common.ts';
import { chromiumSkip as skip, contoso, openConsole, signIn } from './console-browser.ts';

const SUBJECT = 'Invoice <img src=x onerror="window.__xss=\'subject\'"> <script>window.__xss=\'script\'</script>';
const FROM = '"<svg onload=window.__xss=\'from\'>" <billing@fabrikam.test>';
const BODY = '<html><body><script>window.__xss="body"</script><img src=x onerror="window.__xss=\'body-img\'"><a href="javascript:window.__xss=1">pay</a></body></html>';

/** Nothing ran, no markup came from the data, and the payload is on the page as text. */
async function assertInert(page: Page, where: string, expectText?: RegExp): Promise<void> {
  const state = await page.evaluate(() => ({
    xss: (window as unknown as { __xss?: unknown }).__xss ?? null,
    handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).map((e) => e.outerHTML.slice(0, 120)),
    injected: document.querySelectorAll('img[src="x"], svg[onload], body script:not([src]), a[href^="javascript:"]').length,
    text: document.body.innerText,
  }));
  assert.equal(state.xss, null, `${where}: a payload ran`);
  assert.deepEqual(state.handlers, [], `${where}: elements with event handlers`);
  assert.equal(state.injected, 0, `${where}: markup from the message`);
  if (expectText) assert.match(state.text, expectText, `${where}: the payload is shown as text`);
}

test('HTML and script in a held message and an upload name are shown as text, run nowhere, for the admin and the recipient', { skip }, async (t) => {
  const c = await openConsole(t, {
    endOfDataChecks: [holdByTag], policy: (doc) => contoso(doc, 'off'),
    config: { quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
  });
  const id = await hold(c.gateway, '[full]', ['alice@contoso.test'], {
    subject: SUBJECT, from: FROM, body: BODY, headers: ['MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', 'X-Evil: <iframe src="javascript:window.__xss=2">'],
  });
  const admin = await c.gateway.adminClient();
  const item = (await admin.get(`/quarantine/${id}`)).json;
  assert.equal(item.subject, `[full] ${SUBJECT}`);

  const { page } = c;
  await page.goto(c.url());
  await signIn(page, 'admin', c.gateway.adminPassword);
  await page.goto(c.url('quarantine'));
  await page.waitForSelector('#q-list');
  await assertInert(page, 'quarantine list', /Invoice <img src=x onerror=/);

  await page.goto(c.url(`quarantine/${encodeURIComponent(id)}`));
  await page.waitForSelector('#q-detail');
  await assertInert(page, 'quarantine detail', /<script>window\.__xss='script'<\/script>/);
  await page.click('#q-actions button:text("Preview")');
  await page.waitForSelector('#q-preview');
  await assertInert(page, 'preview');
  await page.click('#q-actions button:text("Headers")');
  await page.waitForSelector('#q-headers');
  await assertInert(page, 'headers', /X-Evil: <iframe src="javascript:/);

  await page.goto(c.url(`trace/${encodeURIComponent(item.transactionId)}`));
  await page.waitForSelector('#trace-detail');
  await assertInert(page, 'trace detail', /Invoice <img src=x/);
  await page.goto(c.url('trace'));
  await page.waitForSelector('#trace-results, #trace-empty');
  await assertInert(page, 'trace list');
  await page.goto(c.url('dashboard'));
  await page.waitForLoadState('networkidle');
  await assertInert(page, 'dashboard');

  // An export whose file name is markup: the report names its input.
  await page.goto(c.url('report'));
  await page.waitForSelector('#report-file');
  await page.setInputFiles('#report-file', {
    name: '<img src=x onerror="window.__xss=\'file\'">.csv', mimeType: 'text/csv',
    buffer: Buffer.from('not,a,trace\r\n<script>window.__xss="cell"</script>,2,3\r\n'),
  });
  await page.click('#report-upload');
  await page.waitForSelector('#report-result, [role="alert"]');
  await assertInert(page, 'report of a hostile upload');

  // The API's text answers opened as a page: plain text, nothing run.
  for (const part of ['preview', 'headers']) {
    await page.goto(`${c.gateway.url}/api/v1/quarantine/${encodeURIComponent(id)}/${part}`);
    assert.equal(await page.evaluate(() => document.contentType), 'text/plain', part);
    await assertInert(page, `${part} opened in a tab`);
  }

  // The recipient, through the digest's signed link.
  await page.goto(c.url());
  const { token } = await c.gateway.identities.createRecipientLink('alice@contoso.test', 3600_000, 'test');
  const recipient = await c.context.newPage();
  t.after(() => recipient.close());
  await recipient.goto(c.url(`r/${token}`));
  await recipient.waitForSelector('#q-list');
  await assertInert(recipient, 'recipient list', /Invoice <img src=x onerror=/);
  await recipient.locator('#q-list tbody tr a').first().click();
  await recipient.waitForSelector('#q-detail');
  await recipient.click('#q-actions button:text("Preview")');
  await recipient.waitForSelector('#q-preview');
  await assertInert(recipient, 'recipient preview');

  assert.deepEqual(c.pageErrors, [], 'nothing thrown and nothing refused by the CSP');
  assert.deepEqual(c.foreignRequests, []);

  // The control: markup put into the page the way an unescaped view would is caught by these
  // checks, and even then the CSP keeps its inline handler from running.
  await recipient.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<img src=x onerror="window.__xss=\'control\'">'));
  await recipient.waitForFunction(() => (document.querySelector('img[src="x"]') as HTMLImageElement | null)?.complete === true);
  await assert.rejects(assertInert(recipient, 'control'), /markup from the message|event handlers/);
  assert.equal(await recipient.evaluate(() => (window as unknown as { __xss?: unknown }).__xss ?? null), null, 'the CSP refused the inline handler');
});
