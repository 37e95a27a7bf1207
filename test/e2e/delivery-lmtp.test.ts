// Delivery over LMTP (RFC 2033) to a real Dovecot lmtp service (test/helpers/dovecot.ts): per
// recipient replies, so a message with one unknown mailbox is delivered to the others once and
// bounced for that one only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dovecotUnavailable, startDovecotLmtp } from '../helpers/dovecot.ts';
import type { DovecotInstance } from '../helpers/dovecot.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';

const skip = dovecotUnavailable();
let dovecot: DovecotInstance;
let gateway: TestGateway;

before(async () => {
  if (skip) return;
  dovecot = await startDovecotLmtp(['alice@example.test', 'bob@example.test', 'sender@client.test']);
  const lmtp = { type: 'lmtp', host: '127.0.0.1', port: dovecot.port, starttls: 'off', concurrency: 2, connectTimeoutSeconds: 5 };
  gateway = await startTestGateway({
    // The DSN for client.test also goes to Dovecot here, so the test can read it.
    config: { delivery: { routes: { 'example.test': lmtp, 'client.test': lmtp }, retryDelaysSeconds: [3600] } },
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }] }),
  });
});

after(async () => {
  await gateway?.close();
  await dovecot?.destroy();
});

test('LMTP: each recipient is answered on its own; the unknown one is bounced, the others delivered once', { skip: skip ?? false }, async () => {
  const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test', 'ghost@example.test', 'bob@example.test'], testMessage({ subject: 'lmtp-1' }));
  assert.equal(r.code, 250, r.reply);
  const alice = await waitFor('alice', async () => { const m = await dovecot.messages('alice@example.test'); return m.length > 0 && m; });
  const bob = await waitFor('bob', async () => { const m = await dovecot.messages('bob@example.test'); return m.length > 0 && m; });
  const dsn = await waitFor('DSN', async () => { const m = await dovecot.messages('sender@client.test'); return m.length > 0 && m; });
  await gateway.queue.whenIdle();
  await new Promise((res) => setTimeout(res, 500));
  assert.equal((await dovecot.messages('alice@example.test')).length, 1);
  assert.equal((await dovecot.messages('bob@example.test')).length, 1);
  assert.equal((await dovecot.messages('sender@client.test')).length, 1);
  assert.match(alice[0], /^Subject: lmtp-1/m);
  assert.match(bob[0], /^Subject: lmtp-1/m);
  assert.match(dsn[0], /^Return-Path: <>/m);
  assert.match(dsn[0], /^Final-Recipient: rfc822; ghost@example\.test/m);
  assert.match(dsn[0], /^Status: 5\.1\.1/m);
  assert.doesNotMatch(dsn[0], /Final-Recipient: rfc822; (alice|bob)@/);
  const [record] = await gateway.store.queryTrace({ recipient: 'ghost@example.test' });
  assert.equal(record.deliveryStatus, 'failed');
  assert.equal(record.deliveryAttempts, 1);
});
