// SPEC §3: the reply catalogue. Texts are written out here as the spec gives them, so a reworded
// catalogue entry fails this test instead of silently drifting from Exchange Online's wording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dmarcRejectReply, queuedReply, renderReply, replies, replyMessage } from '../../src/policy/replies.ts';
import type { SmtpReply } from '../../src/domain/types.ts';

/** SPEC §3, row by row (the two built per message are checked below). */
const spec: Record<string, string> = {
  directSend: '550 5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources',
  connectorRestriction: '550 5.7.51 TenantInboundAttribution; message did not match the IP or certificate restriction of a partner connector',
  relayDenied: '550 5.7.64 TenantAttribution; Relay Access Denied',
  recipientNotFound: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
  authRequired: '530 5.7.57 Client not authenticated to send mail',
  sendAsDenied: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
  spoofReject: '550 5.7.1 Message rejected: sender spoofs an organization domain',
  tempAuth: '451 4.7.26 Temporary authentication failure, try again later',
  internal: '451 4.3.0 Temporary server error, try again later',
  storageFull: '452 4.3.1 Insufficient system storage',
  tooBig: '552 5.3.4 Message size exceeds fixed maximum message size',
  tooMany: '421 4.3.2 Too many connections, try again later',
};

for (const [key, text] of Object.entries(spec)) {
  test(`catalogue ${key} is exactly the SPEC §3 text`, () => {
    const r = (replies as Record<string, SmtpReply>)[key];
    assert.ok(r, `catalogue has no entry ${key}`);
    assert.equal(renderReply(r), text);
  });
}

test('5.7.68 is word for word the Exchange Online reply', () => {
  assert.equal(replies.directSend.code, 550);
  assert.equal(replies.directSend.enhanced, '5.7.68');
  assert.equal(replies.directSend.text, 'TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources');
});

/** RFC 3463: the enhanced code's class digit must agree with the basic code's class. */
function assertClassesAgree(name: string, r: SmtpReply): void {
  assert.match(r.enhanced, /^[245]\.\d{1,3}\.\d{1,3}$/, `${name}: malformed enhanced code ${r.enhanced}`);
  assert.ok(r.code >= 200 && r.code <= 599, `${name}: code ${r.code}`);
  assert.equal(String(Math.floor(r.code / 100)), r.enhanced[0], `${name}: ${r.code} vs ${r.enhanced}`);
  assert.ok(!/[\r\n]/.test(r.text), `${name}: text must be one line`);
  assert.ok(r.text.length > 0, `${name}: empty text`);
}

test('every catalogue reply: class of the code equals the class of the enhanced code', () => {
  const entries = Object.entries(replies as Record<string, SmtpReply>);
  assert.ok(entries.length >= Object.keys(spec).length);
  for (const [name, r] of entries) assertClassesAgree(name, r);
  assertClassesAgree('dmarcReject', dmarcRejectReply('example.com'));
  assertClassesAgree('queued', queuedReply('ABC123'));
});

test('catalogue entries are frozen', () => {
  assert.ok(Object.isFrozen(replies));
  for (const r of Object.values(replies as Record<string, SmtpReply>)) assert.ok(Object.isFrozen(r));
  assert.throws(() => { (replies.directSend as { code: number }).code = 250; }, TypeError);
});

test('dmarcReject names the domain in brackets (SPEC §3 row dmarcReject)', () => {
  const r = dmarcRejectReply('contoso.com');
  assert.equal(r.code, 550);
  assert.equal(r.enhanced, '5.7.509');
  const m = /^Access denied, sending domain \[([^\]]+)\] does not pass DMARC verification and has a DMARC policy of reject$/.exec(r.text);
  assert.ok(m, r.text);
  // EXO prints the domain upper-cased; either case names the same domain.
  assert.equal(m[1].toLowerCase(), 'contoso.com');
});

test('queued is 250 2.6.0 with the queue id in angle brackets', () => {
  const r = queuedReply('1A2B3C');
  assert.equal(renderReply(r), '250 2.6.0 <1A2B3C> Queued mail for delivery');
});

test('replyMessage is the text after the code, as smtp-server wants it', () => {
  assert.equal(replyMessage(replies.relayDenied), '5.7.64 TenantAttribution; Relay Access Denied');
});
