// The web console in real headless Chromium against a running gateway (issue 13): signing in,
// adding a connector and watching the next SMTP transaction from that IP change verdict, the
// dashboard drawing the Direct Send traffic the test just sent, a report over an uploaded Exchange
// Online export whose recommended connector is merged after its diff, and what each role is shown.
// The quarantine and the recipients' self-service: console-quarantine.test.ts.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { repoRoot } from '../helpers/commands.ts';
import { holdMarked } from '../helpers/hold-check.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';
import type { Page } from 'playwright-core';
import { chromiumSkip as skip, contoso, DESKTOP, openConsole, PHONE, screenshot, signIn, tooWide, unlabelled } from './console-browser.ts';

/** A Direct Send message: envelope and From in our own domain, from a source no connector names. */
function directSend(port: number, subject: string) {
  return sendOne(port, 'scanner@contoso.test', ['alice@contoso.test'],
    testMessage({ from: 'Scanner <scanner@contoso.test>', to: 'alice@contoso.test', subject }));
}

test('sign in: a wrong password is answered next to the form, the right one opens the dashboard', { skip }, async (t) => {
  const c = await openConsole(t);
  await c.page.goto(c.url());
  await c.page.waitForSelector('#sign-in-form');
  await screenshot(c.page, 'sign-in');
  await c.page.fill('#sign-in-username', 'admin');
  await c.page.fill('#sign-in-password', 'not the password');
  await c.page.click('#sign-in-form button[type=submit]');
  const banner = c.page.locator('.error-banner');
  await banner.waitFor();
  assert.match(await banner.textContent() ?? '', /unauthenticated\s+wrong user name or password/);

  await c.page.fill('#sign-in-password', c.gateway.adminPassword);
  await c.page.click('#sign-in-form button[type=submit]');
  await c.page.waitForSelector('#who-role');
  assert.equal(new URL(c.page.url()).hash, '#/dashboard');
  assert.equal(await c.page.textContent('#who-role'), 'administrator');
  assert.equal(await c.page.textContent('#who-name'), 'admin');
  // The session is an HttpOnly cookie the page's scripts cannot read.
  assert.equal(await c.page.evaluate(() => document.cookie), '');
  const cookies = await c.context.cookies();
  const session = cookies.find((k) => k.name === '__Host-mxward_session');
  assert.ok(session?.httpOnly && session.secure && session.sameSite === 'Strict', JSON.stringify(cookies));

  // A reload keeps the session; signing out ends it.
  await c.page.reload();
  await c.page.waitForSelector('#who-role');
  await c.page.click('#sign-out');
  await c.page.waitForSelector('#sign-in-form');

  // A session that ends behind the page's back (here: signed out from another tab) sends the next
  // view to the sign-in, saying why.
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  const ended = await c.page.evaluate(async () => (await fetch('/api/v1/session', { method: 'DELETE', headers: { 'x-csrf-token': sessionStorage.getItem('mxward.csrf') ?? '' } })).status);
  assert.equal(ended, 204);
  await c.page.click('#main-nav a[href="#/trace"]');
  await c.page.waitForSelector('#sign-in-form');
  assert.match(await c.page.textContent('.error-banner') ?? '', /unauthenticated/);
  assert.deepEqual(c.foreignRequests, [], 'the console fetched nothing outside mxward');
  assert.deepEqual(c.pageErrors, []);
});

/** Adds the connector Office-Scanner (contoso.test from 127.0.0.1) through the form, after a typo the API refuses. */
async function addScannerConnector(page: Page): Promise<void> {
  await page.waitForSelector('#connector-new');
  await page.click('#connector-new');
  await page.fill('#conn-name', 'Office-Scanner');
  await page.fill('#conn-senderDomains', 'contoso.test');
  // A mistyped address: the API's error is shown under the field it is about, with its path.
  await page.fill('#conn-senderIPAddresses', '127.0.0.300');
  await page.click('#connector-save');
  const fieldError = page.locator('#err-senderIPAddresses');
  await fieldError.waitFor();
  assert.match(await fieldError.textContent() ?? '', /validation_failed.*127\.0\.0\.300.*senderIPAddresses\[0\]/s);
  assert.equal(await page.getAttribute('#conn-senderIPAddresses', 'aria-invalid'), 'true');
  await screenshot(page, 'connector-error');

  await page.fill('#conn-senderIPAddresses', '127.0.0.1');
  await page.click('#connector-save');
  await page.waitForSelector('#connector-added');
}

/** The trace view of 127.0.0.1: refused, accepted, refused (newest first); the search form; one transaction. */
async function traceShowsAllThree(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('#trace-results');
  const verdicts = await page.locator('#trace-results tbody .badge').allTextContents();
  // Newest first: refused once disabled, accepted with the connector, refused before it.
  assert.equal(verdicts[0], 'reject');
  assert.equal(verdicts[verdicts.length - 1], 'reject');
  assert.ok(verdicts.includes('accept'), verdicts.join(','));
  // The search form narrows it: only the refused ones, and the filter is in the address.
  await page.selectOption('#trace-verdict', 'reject');
  await page.click('#trace-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#trace-results tbody .badge')].every((b) => b.textContent === 'reject'));
  assert.match(page.url(), /#\/trace\?.*verdict=reject/);
  await page.goBack();
  await page.waitForFunction(() => [...document.querySelectorAll('#trace-results tbody .badge')].some((b) => b.textContent === 'accept'));
  await page.locator('#trace-results tbody tr', { has: page.locator('.badge', { hasText: 'accept' }) }).first().locator('a').click();
  await page.waitForSelector('#trace-detail');
  assert.equal(await page.textContent('#detail-verdict'), 'accept');
  assert.match(await page.locator('#trace-hits').textContent() ?? '', /Office-Scanner/);
}

test('a connector added in the console changes the verdict of the next SMTP transaction from that IP', { skip }, async (t) => {
  const c = await openConsole(t, { policy: (doc) => contoso(doc, 'enforce') });
  const before = await directSend(c.gateway.inbound.port, 'Scan before the connector');
  assert.equal(before.ok, false, before.reply);
  assert.match(before.reply, /^550 /);

  await c.page.goto(c.url('policy'));
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  await addScannerConnector(c.page);
  const savedAt = Date.now();

  // Within a second of the console saying it is saved, the gateway attributes the source to it.
  const after = await waitFor('the connector to take effect', async () => {
    const sent = await directSend(c.gateway.inbound.port, 'Scan after the connector');
    return sent.ok ? sent : null;
  }, 1000);
  t.diagnostic(`the first transaction accepted ended ${Date.now() - savedAt} ms after the console said the connector was saved`);
  assert.match(after.reply, /^250 /);
  await c.page.locator('#connector-list tr[data-name="Office-Scanner"]').waitFor();
  const record = await c.gateway.waitForTrace({ sender: 'scanner@contoso.test', verdict: 'accept' });
  assert.equal(record.connector, 'Office-Scanner');
  assert.equal(record.attribution, 'partner');

  // The live connector test agrees, and the trace view shows both transactions.
  await c.page.fill('#ctest-ip', '127.0.0.1');
  await c.page.fill('#ctest-sender', 'scanner@contoso.test');
  await c.page.click('#connector-test-form button[type=submit]');
  assert.match(await c.page.locator('#connector-test-result').textContent() ?? '', /Matches connector Office-Scanner \(by ip\)/);
  await screenshot(c.page, 'policy');

  // Disabled in the console, the connector stops vouching for the source: refused again.
  await c.page.click('button[aria-label="Disable connector Office-Scanner"]');
  await c.page.waitForSelector('button[aria-label="Enable connector Office-Scanner"]');
  const refused = await waitFor('the disabled connector to stop matching', async () => {
    const sent = await directSend(c.gateway.inbound.port, 'Scan after disabling');
    return sent.ok ? null : sent;
  }, 1000);
  assert.match(refused.reply, /^550 /);
  // The trace record is written when the session ends, just after the client saw its reply.
  await waitFor('the refused transaction in the trace', async () => (await c.gateway.store.queryTrace({ ip: '127.0.0.1', limit: 1 }))[0]?.verdict === 'reject', 5000);
  await traceShowsAllThree(c.page, c.url('trace?ip=127.0.0.1'));
  await screenshot(c.page, 'trace-detail');
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});


test('the dashboard draws the Direct Send traffic just sent and names its source among those enforce would refuse', { skip }, async (t) => {
  const c = await openConsole(t, { policy: (doc) => contoso(doc, 'report') });
  for (let i = 1; i <= 3; i++) {
    const sent = await directSend(c.gateway.inbound.port, `Scan ${i}`);
    assert.equal(sent.code, 250, `report mode accepts and records: ${sent.reply}`);
  }
  // Each record is written as its session ends: wait for all three before drawing.
  const records = await waitFor('three trace records', async () => {
    const found = await c.gateway.store.queryTrace({ sender: 'scanner@contoso.test', limit: 10 });
    return found.length === 3 ? found : null;
  }, 5000);
  assert.ok(records.every((r) => r.directSendWouldReject));

  await c.page.goto(c.url('dashboard'));
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  await c.page.waitForSelector('#enforce-now');
  const bars = c.page.locator('#would-reject-chart rect.bar-0');
  assert.ok(await bars.count() >= 1, 'a would-reject bar is drawn');
  const titles = await c.page.locator('#would-reject-chart rect.bar-0 title').allTextContents();
  assert.equal(titles.map((x) => Number(/: (\d+) would be rejected/.exec(x)?.[1] ?? 0)).reduce((a, b) => a + b, 0), 3, titles.join(' | '));
  assert.ok(titles.every((x) => /\(1 source\)$/.test(x)), 'one source sent them all');
  const refused = await c.page.locator('#enforce-now').textContent() ?? '';
  assert.match(refused, /127\.0\.0\.1/, 'the source is listed among those enforce would refuse');
  assert.match(await c.page.textContent('#verdict-chart') ?? '', /accept/);
  await screenshot(c.page, 'dashboard-1280');
  await c.page.setViewportSize(PHONE);
  assert.deepEqual(await tooWide(c.page, PHONE.width), [], 'nothing wider than a phone');
  await screenshot(c.page, 'dashboard-phone');

  // The same traffic as a report over the gateway's own trace.
  await c.page.setViewportSize(DESKTOP);
  await c.page.goto(c.url('report'));
  await c.page.click('#report-live');
  await c.page.waitForSelector('#report-result');
  assert.equal(await c.page.textContent('#report-would-reject'), '3');
  assert.match(await c.page.textContent('#report-sources') ?? '', /127\.0\.0\.1/);
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});

test('an uploaded Exchange Online export shows the report, and its recommended connector is merged after the diff', { skip }, async (t) => {
  const c = await openConsole(t, {
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'contoso.com', includeSubdomains: false, recipients: [] }] }),
  });
  await c.page.goto(c.url('report'));
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  await c.page.setInputFiles('#report-file', join(repoRoot, 'test', 'fixtures', 'report', 'message-trace-v2.csv'));
  // The printers' network named by the administrator is the positive evidence a connector needs.
  await c.page.fill('#report-knownSenders', '203.0.113.0/24=office-printers');
  await c.page.click('#report-upload');
  await c.page.waitForSelector('#report-result');
  assert.match(await c.page.textContent('#report-headline') ?? '', /^Enforcing Reject Direct Send would stop/);
  assert.match(await c.page.textContent('#report-recommendations') ?? '', /DirectSend-office-printers-203\.0\.113\.0-24/);
  await screenshot(c.page, 'report');

  await c.page.click('#report-merge-preview');
  const diff = c.page.locator('#report-merge .diff');
  await diff.waitFor();
  assert.deepEqual((await diff.locator('li').allTextContents()).map((s) => s.trim()), ['+ connector DirectSend-office-printers-203.0.113.0-24']);
  assert.equal((await c.gateway.store.readPolicy()).document.connectors.length, 0, 'the preview wrote nothing');
  await c.page.click('#report-merge-apply');
  await c.page.waitForSelector('#report-merge-done');
  assert.match(await c.page.textContent('#report-merge-done') ?? '', /Saved as policy version \d+/);
  const { document } = await c.gateway.store.readPolicy();
  const added = document.connectors.find((x) => x.name === 'DirectSend-office-printers-203.0.113.0-24');
  assert.deepEqual(added?.senderIPAddresses, ['203.0.113.0/24']);

  // The merge is in the policy history, with its diff, by the console account.
  await c.page.goto(c.url('history'));
  await c.page.waitForSelector('#history-list');
  await c.page.locator('#history-list li a').first().click();
  await c.page.waitForSelector('#history-detail .diff');
  assert.match(await c.page.textContent('#history-detail') ?? '', /admin[\s\S]*policy\.merge[\s\S]*\+ connector DirectSend-office-printers/);

  // The configuration audit over Exchange Online exports (UTF-16 as PowerShell writes them too).
  await c.page.goto(c.url('report'));
  const exports = ['organization-config-utf16.json', 'inbound-connectors.json', 'accepted-domains.json'];
  await c.page.setInputFiles('#audit-files', exports.map((f) => join(repoRoot, 'test', 'fixtures', 'report', f)));
  await c.page.click('#audit-run');
  await c.page.waitForSelector('#audit-checks');
  const statuses = await c.page.locator('#audit-checks tbody .badge').allTextContents();
  assert.ok(statuses.length > 5 && statuses.every((x) => ['pass', 'fail', 'warn', 'skip'].includes(x)), statuses.join(','));
  const exoRow = c.page.locator('#audit-checks tbody tr', { hasText: 'exo.connectors.restricted' });
  assert.notEqual(await exoRow.locator('.badge').textContent(), 'skip', 'the uploaded connectors were checked');
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});

/** A gateway with one message held for alice@contoso.test, and the console open on it. */
async function consoleWithHeldMessage(t: TestContext) {
  const c = await openConsole(t, { endOfDataChecks: [holdMarked], policy: (doc) => contoso(doc, 'report') });
  const sent = await sendOne(c.gateway.inbound.port, 'news@fabrikam.test', ['alice@contoso.test'],
    testMessage({ from: 'News <news@fabrikam.test>', to: 'alice@contoso.test', subject: 'Statement [hold]' }));
  assert.equal(sent.code, 250, sent.reply);
  const { quarantineId } = await c.gateway.waitForTrace({ recipient: 'alice@contoso.test', verdict: 'quarantine' });
  return { c, quarantineId: quarantineId! };
}

test('every view fits 1280 px and a phone, and labels every control', { skip }, async (t) => {
  const { c, quarantineId } = await consoleWithHeldMessage(t);
  await c.page.goto(c.url());
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  const views = ['dashboard', 'trace', 'quarantine', 'policy', 'history', 'report', 'queue', 'access', `quarantine/${quarantineId}`];
  for (const viewport of [DESKTOP, PHONE]) {
    await c.page.setViewportSize(viewport);
    for (const view of views) {
      await c.page.goto(c.url(view));
      await c.page.waitForSelector('#view h1');
      await c.page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      assert.deepEqual(await unlabelled(c.page), [], `#/${view}: every control is labelled`);
      assert.deepEqual(await tooWide(c.page, viewport.width), [], `#/${view} fits ${viewport.width} px`);
    }
  }
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});

/** Creates an API token on the access view: its secret is shown once, and not after a reload. */
async function createTokenShownOnce(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.fill('#tok-name', 'monitoring');
  await page.click('#token-form button[type=submit]');
  const secret = await page.locator('#token-secret pre').textContent() ?? '';
  assert.ok(secret.length >= 20, 'the new token is shown');
  await page.locator('#token-list', { hasText: 'monitoring' }).waitFor();
  await page.reload();
  await page.waitForSelector('#token-list');
  assert.doesNotMatch(await page.textContent('#view') ?? '', new RegExp(secret), 'and never again');
  await screenshot(page, 'access');
}

test('each role sees only what it may do', { skip }, async (t) => {
  const { c, quarantineId } = await consoleWithHeldMessage(t);
  const auditorPassword = await c.gateway.addAccount('audrey', 'auditor');
  const helpdeskPassword = await c.gateway.addAccount('hugo', 'helpdesk');
  const navOf = async () => (await c.page.locator('#main-nav a').allTextContents()).join(',');

  // The administrator: everything, the quarantine by recipient, a token shown once.
  await c.page.goto(c.url(`quarantine/${quarantineId}`));
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  assert.equal(await navOf(), 'Dashboard,Message trace,Quarantine,Policy,History,Report,Queue,Access');
  await c.page.waitForSelector('#q-actions');
  assert.equal(await c.page.locator('#q-release').count(), 1, 'the administrator may release');
  await c.page.goto(c.url('quarantine'));
  await c.page.fill('#q-recipient', 'bob@contoso.test');
  await c.page.click('#q-recipient-form button[type=submit]');
  await c.page.waitForSelector('#q-empty');
  await c.page.fill('#q-recipient', 'alice@contoso.test');
  await c.page.click('#q-recipient-form button[type=submit]');
  await c.page.locator(`#q-list tr[data-id="${quarantineId}"]`).waitFor();
  await createTokenShownOnce(c.page, c.url('access'));
  await c.page.click('#sign-out');

  // The auditor reads policy and quarantine but gets no button that changes anything.
  await signIn(c.page, 'audrey', auditorPassword);
  assert.equal(await navOf(), 'Dashboard,Message trace,Quarantine,Policy,History,Report,Queue');
  await c.page.goto(c.url('policy'));
  await c.page.waitForSelector('#connector-test-form');
  assert.equal(await c.page.locator('#connector-new, #domain-form, #user-form').count(), 0);
  assert.equal(await c.page.locator('#org-form fieldset').getAttribute('disabled'), '');
  await c.page.goto(c.url(`quarantine/${quarantineId}`));
  await c.page.waitForSelector('#q-actions');
  assert.equal(await c.page.locator('#q-release, #q-delete, #q-approve, #q-deny').count(), 0, 'an auditor cannot release');
  await c.page.goto(c.url('queue'));
  await c.page.waitForSelector('#queue-title');
  assert.equal(await c.page.locator('#queue-flush').count(), 0);
  await c.page.goto(c.url('access'));
  assert.match(await c.page.textContent('#view') ?? '', /cannot open this view/);
  await c.page.click('#sign-out');

  // The helpdesk releases quarantined mail and works the queue, but does not change the policy.
  await signIn(c.page, 'hugo', helpdeskPassword);
  await c.page.goto(c.url(`quarantine/${quarantineId}`));
  await c.page.waitForSelector('#q-release');
  await c.page.goto(c.url('queue'));
  await c.page.waitForSelector('#queue-flush');
  await c.page.goto(c.url('policy'));
  await c.page.waitForSelector('#connector-test-form');
  assert.equal(await c.page.locator('#connector-new').count(), 0);
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});

test('policy history: each version with its diff, the policy file exported, an import that would remove refused, a rollback', { skip }, async (t) => {
  const c = await openConsole(t, { policy: (doc) => contoso(doc, 'report') });
  await c.gateway.setPolicy((doc) => ({
    ...doc, connectors: [...doc.connectors, { name: 'Partner-Fabrikam', type: 'partner', enabled: true, senderDomains: ['fabrikam.test'], senderIPAddresses: ['192.0.2.0/24'], restrictDomainsToIPAddresses: true, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false, tlsSenderCertificateName: null, comment: '' }],
  }));
  const { version: withPartner } = await c.gateway.store.readPolicy();

  await c.page.goto(c.url('history'));
  await signIn(c.page, 'admin', c.gateway.adminPassword);
  await c.page.waitForSelector('#history-list');
  await c.page.click(`#history-list a[href="#/history/${withPartner}"]`);
  await c.page.waitForSelector('#history-detail .diff');
  assert.deepEqual((await c.page.locator('#history-detail .diff li').allTextContents()).map((s) => s.trim()), ['+ connector Partner-Fabrikam']);

  await c.page.click('#policy-export');
  const yaml = await c.page.locator('#policy-yaml').textContent() ?? '';
  assert.match(yaml, /name: Partner-Fabrikam/);
  // The same file without the connector: import refuses to remove it unless "replace" is ticked.
  const without = stringifyYaml({ ...parseYaml(yaml), connectors: [] });
  await c.page.fill('#import-yaml', without);
  await c.page.click('#import-preview');
  await c.page.waitForSelector('#import-preview-result, .error-banner');
  assert.match(await c.page.textContent('#import-preview-result') ?? '', /- connector Partner-Fabrikam[\s\S]*would be refused: .*remove connector Partner-Fabrikam/);
  assert.equal(await c.page.locator('#import-apply').count(), 0, 'no import button for a refused change');

  // Rolling back to the version before it removes the connector, diff first.
  await c.page.click(`#history-list a[href="#/history/${withPartner - 1}"]`);
  await c.page.click('#rollback-preview');
  assert.match(await c.page.locator('.rollback .diff').textContent() ?? '', /- connector Partner-Fabrikam/);
  await c.page.click('#rollback-apply');
  await c.page.waitForSelector('#rollback-done');
  const after = await c.gateway.store.readPolicy();
  assert.equal(after.version, withPartner + 1);
  assert.deepEqual(after.document.connectors.map((x) => x.name), []);
  await c.page.locator('#history-list', { hasText: `policy.rollback:v${withPartner - 1}` }).waitFor();
  await screenshot(c.page, 'history');
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});
