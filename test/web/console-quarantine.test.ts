// The quarantine in the web console, in real headless Chromium against a running gateway (issue
// 13): a recipient releases their own held message under the full policy (delivered once through
// the real queue into the Maildir) and follows a signed link; under the limited policy she signs in
// by the link in her quarantine digest and can only ask, and the helpdesk approves the request in
// the console; under AdminOnlyAccessPolicy (the seed scenario's phish) she is offered nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdMarked } from '../helpers/hold-check.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';
import { chromiumSkip as skip, contoso, openConsole, PHONE, screenshot, signIn } from './console-browser.ts';

test('a recipient signs in with mail credentials, sees only their held message and releases it: delivered once', { skip }, async (t) => {
  const c = await openConsole(t, {
    endOfDataChecks: [holdMarked], policy: (doc) => contoso(doc, 'off'),
    config: { quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
  }, PHONE);
  const admin = await c.gateway.adminClient();
  const added = await admin.post('/users', { username: 'alice', password: 'alice-password-1', addresses: ['alice@contoso.test'] });
  assert.equal(added.status, 201, added.text);
  for (const to of ['alice@contoso.test', 'bob@contoso.test']) {
    const sent = await sendOne(c.gateway.inbound.port, 'news@fabrikam.test', [to],
      testMessage({ from: 'News <news@fabrikam.test>', to, subject: `Invoice for ${to} [hold]`, body: `Held for ${to}.` }));
    assert.equal(sent.code, 250, sent.reply);
    await c.gateway.waitForTrace({ recipient: to, verdict: 'quarantine' });
  }

  await c.page.goto(c.url());
  await signIn(c.page, 'alice', 'alice-password-1', 'recipient');
  assert.equal(await c.page.textContent('#who-role'), 'recipient');
  await c.page.waitForSelector('#q-list');
  const rows = c.page.locator('#q-list tbody tr');
  assert.equal(await rows.count(), 1, 'only her own message');
  assert.match(await rows.first().textContent() ?? '', /Invoice for alice@contoso\.test/);
  await screenshot(c.page, 'recipient-phone');
  await rows.first().locator('a').click();
  await c.page.waitForSelector('#q-detail');
  // DefaultFullAccessPolicy: preview and release; nothing an administrator alone may do.
  assert.equal(await c.page.locator('#q-approve, #q-deny, #q-request-release').count(), 0);
  await c.page.click('#q-actions button:text("Preview")');
  assert.match(await c.page.textContent('#q-preview') ?? '', /Held for alice@contoso\.test\./);
  await c.page.click('#q-release');
  await c.page.waitForSelector('#q-done');

  const delivered = await waitForMaildir(c.gateway.dataDir, 'alice@contoso.test', 1);
  assert.equal(delivered.length, 1);
  assert.match(delivered[0], /Held for alice@contoso\.test\./);
  // Released: no second release is offered, and one asked for anyway is refused by the server.
  await c.page.waitForFunction(() => !document.querySelector('#q-release'));
  const id = new URL(c.page.url()).hash.split('/')[2];
  const again = await c.page.evaluate(async (qid) => {
    const r = await fetch(`/api/v1/quarantine/${qid}/release`, { method: 'POST', headers: { 'x-csrf-token': sessionStorage.getItem('mxward.csrf') ?? '' } });
    return r.status;
  }, id);
  assert.ok(again >= 400 && again < 500, `a second release answered ${again}`);
  assert.equal((await maildirMessages(c.gateway.dataDir, 'alice@contoso.test')).length, 1, 'delivered exactly once');
  assert.equal((await maildirMessages(c.gateway.dataDir, 'bob@contoso.test')).length, 0, 'bob\'s copy stays held');

  // The digest's signed link opens the same self-service without a password.
  await c.page.click('.nav-toggle');
  await c.page.click('#sign-out');
  await c.page.waitForSelector('#sign-in-form');
  const { token } = await c.gateway.identities.createRecipientLink('bob@contoso.test', 3600_000, 'test');
  await c.page.goto(c.url(`r/${token}`));
  await c.page.waitForSelector('#q-list');
  assert.doesNotMatch(c.page.url(), new RegExp(token), 'the link token left the address bar');
  assert.match(await c.page.locator('#q-list tbody').textContent() ?? '', /Invoice for bob@contoso\.test/);
  assert.doesNotMatch(await c.page.locator('#q-list tbody').textContent() ?? '', /alice/);
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});

test('limited policy: the recipient follows the digest link and can only ask, the helpdesk approves the request in the console, delivered once', { skip }, async (t) => {
  const c = await openConsole(t, {
    endOfDataChecks: [holdMarked], policy: (doc) => contoso(doc, 'off'),
    config: { quarantine: { pollMs: 100, policies: { dmarcQuarantine: 'DefaultLimitedAccessPolicy' } }, delivery: { rescanSeconds: 0.1 } },
  });
  const helpdeskPassword = await c.gateway.addAccount('hugo', 'helpdesk');
  const sent = await sendOne(c.gateway.inbound.port, 'news@fabrikam.test', ['alice@contoso.test'],
    testMessage({ from: 'News <news@fabrikam.test>', to: 'alice@contoso.test', subject: 'Payslip [hold]', body: 'Payslip body.' }));
  assert.equal(sent.code, 250, sent.reply);
  const { quarantineId } = await c.gateway.waitForTrace({ recipient: 'alice@contoso.test', verdict: 'quarantine' });

  // The limited policy notifies: the digest in her mailbox carries a signed console link, and
  // following it is all she needs to do to sign in.
  const linkOf = (m: string) => /\/console\/#\/r\/([A-Za-z0-9._~-]+)/.exec(m)?.[1];
  const digest = await waitFor('the quarantine digest with its console link', async () =>
    (await maildirMessages(c.gateway.dataDir, 'alice@contoso.test')).find((m) => linkOf(m)), 10_000);
  await c.page.goto(c.url(`r/${linkOf(digest)}`));
  await c.page.waitForSelector('#q-list');
  assert.equal(await c.page.textContent('#who-role'), 'recipient');
  await c.page.locator(`#q-list tr[data-id="${quarantineId}"] a`).click();
  await c.page.waitForSelector('#q-request-release');
  assert.equal(await c.page.locator('#q-release').count(), 0, 'the limited policy offers no release to the recipient');
  await c.page.click('#q-request-release');
  await c.page.waitForSelector('#q-done');
  await c.page.waitForFunction(() => !document.querySelector('#q-request-release'));
  const payslips = async () => (await maildirMessages(c.gateway.dataDir, 'alice@contoso.test')).filter((m) => m.includes('Payslip body.'));
  assert.equal((await payslips()).length, 0, 'asking releases nothing');
  await c.page.click('#sign-out');

  await signIn(c.page, 'hugo', helpdeskPassword);
  await c.page.goto(c.url('quarantine?state=requested'));
  await c.page.waitForSelector('#q-list');
  assert.match(await c.page.textContent('#q-list') ?? '', /Payslip \[hold\][\s\S]*requested/);
  await c.page.locator(`#q-list tr[data-id="${quarantineId}"] a`).click();
  await c.page.waitForSelector('#q-approve');
  assert.equal(await c.page.locator('#q-deny').count(), 1);
  await screenshot(c.page, 'quarantine-request');
  await c.page.click('#q-approve');
  await c.page.waitForSelector('#q-done');
  await waitFor('the approved release to be delivered', async () => (await payslips()).length > 0, 10_000);
  await c.page.waitForFunction(() => !document.querySelector('#q-approve'));
  assert.equal((await payslips()).length, 1, 'delivered exactly once');
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});

test('AdminOnlyAccessPolicy: the recipient is shown nothing to release, the administrator sees the message', { skip }, async (t) => {
  const c = await openConsole(t, {
    endOfDataChecks: [holdMarked], policy: (doc) => contoso(doc, 'off'),
    config: { quarantine: { pollMs: 100, policies: { dmarcQuarantine: 'AdminOnlyAccessPolicy' } } },
  });
  const admin = await c.gateway.adminClient();
  assert.equal((await admin.post('/users', { username: 'alice', password: 'alice-password-1', addresses: ['alice@contoso.test'] })).status, 201);
  const sent = await sendOne(c.gateway.inbound.port, 'it-support@fabrikam.test', ['alice@contoso.test'],
    testMessage({ from: 'IT <it-support@fabrikam.test>', to: 'alice@contoso.test', subject: 'Reset your password [hold]' }));
  assert.equal(sent.code, 250, sent.reply);
  const { quarantineId } = await c.gateway.waitForTrace({ recipient: 'alice@contoso.test', verdict: 'quarantine' });

  await c.page.goto(c.url());
  await signIn(c.page, 'alice', 'alice-password-1', 'recipient');
  await c.page.waitForSelector('#q-empty');
  // Even the message's own address gives her no action on it.
  await c.page.goto(c.url(`quarantine/${quarantineId}`));
  await c.page.waitForSelector('#q-detail, .error-banner');
  assert.equal(await c.page.locator('#q-release, #q-request-release, #q-delete').count(), 0);
  await c.page.click('#sign-out');

  await signIn(c.page, 'admin', c.gateway.adminPassword);
  await c.page.goto(c.url(`quarantine/${quarantineId}`));
  await c.page.waitForSelector('#q-release');
  assert.match(await c.page.textContent('#q-detail') ?? '', /AdminOnlyAccessPolicy/);
  assert.equal((await maildirMessages(c.gateway.dataDir, 'alice@contoso.test')).length, 0);
  assert.deepEqual(c.foreignRequests, []);
  assert.deepEqual(c.pageErrors, []);
});
