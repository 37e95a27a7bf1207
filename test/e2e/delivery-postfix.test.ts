// Delivery to a real Postfix (test/helpers/postfix.ts): STARTTLS required with certificate
// verification, per-recipient outcomes, one RFC 3464 DSN for a permanent failure and none for the
// null sender, the delivery trace, and an outage seen through `mxward queue list` and ended
// with `mxward queue flush`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { postfixUnavailable, startPostfix } from '../helpers/postfix.ts';
import type { PostfixInstance } from '../helpers/postfix.ts';
import { TestPki } from '../helpers/certificates.ts';
import { mxward } from '../helpers/commands.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';

const skip = postfixUnavailable();
let postfix: PostfixInstance;
let gateway: TestGateway;

async function spoolEntries(): Promise<string[]> {
  return (await readdir(join(gateway.dataDir, 'spool', 'queue'))).filter((n) => n.endsWith('.json'));
}

let pki: TestPki | null = null;

before(async () => {
  if (skip) return;
  pki = await TestPki.create();
  const server = await pki.issue('downstream', 'downstream.test', ['downstream.test']);
  postfix = await startPostfix({
    domains: ['example.test', 'client.test'],
    mailboxes: ['alice@example.test', 'bob@example.test', 'sender@client.test'],
    tls: { certFile: server.certFile, keyFile: server.keyFile },
  });
  const route = {
    type: 'smtp', host: '127.0.0.1', port: postfix.port, starttls: 'required', verifyCertificate: true,
    caFile: pki!.caFile, tlsServerName: 'downstream.test', concurrency: 2, connectTimeoutSeconds: 5,
  };
  gateway = await startTestGateway({
    config: { delivery: { default: route, routes: { 'example.test': route }, retryDelaysSeconds: [3600], rescanSeconds: 0.2 } },
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }] }),
  });
});

after(async () => {
  await gateway?.close();
  await postfix?.destroy();
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

test('relays over verified STARTTLS to Postfix, both recipients, and the trace shows the reply', { skip: skip ?? false }, async () => {
  const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test', 'bob@example.test'], testMessage({ subject: 'relay-1' }));
  assert.equal(r.code, 250, r.reply);
  const [alice] = await waitFor('alice', async () => { const m = await postfix.messages('alice@example.test'); return m.length >= 1 && m; });
  const bob = await waitFor('bob', async () => { const m = await postfix.messages('bob@example.test'); return m.length >= 1 && m; });
  assert.equal(bob.length, 1);
  assert.match(alice, /^Subject: relay-1/m);
  // Postfix records the TLS session of the hop from mxward in its Received field.
  assert.match(alice, /\(using TLSv1\.[23] with cipher/);
  assert.match(alice, /X-Mxward-AuthAs: Anonymous/);
  const [record] = await waitFor('trace', async () => {
    const rows = await gateway.store.queryTrace({ sender: 'sender@client.test' });
    return rows.length > 0 && rows[0].deliveryStatus === 'delivered' && rows;
  });
  assert.equal(record.deliveryAttempts, 1);
  assert.match(record.deliveryReply ?? '', /^250 2\.0\.0 Ok: queued as/);
});

test('a recipient Postfix refuses gets exactly one RFC 3464 DSN; the other is delivered once', { skip: skip ?? false }, async () => {
  const before = (await postfix.messages('alice@example.test')).length;
  const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test', 'nobody@example.test'], testMessage({ subject: 'bounce-1' }));
  assert.equal(r.code, 250, r.reply);
  const dsns = await waitFor('DSN', async () => { const m = await postfix.messages('sender@client.test'); return m.length >= 1 && m; });
  await gateway.queue.whenIdle();
  await new Promise((res) => setTimeout(res, 1000)); // room for a second (wrong) DSN to show up
  assert.equal((await postfix.messages('sender@client.test')).length, 1, 'exactly one DSN');
  assert.equal((await postfix.messages('alice@example.test')).length, before + 1, 'alice got the message once');
  const dsn = dsns[0];
  assert.match(dsn, /^Return-Path: <>/m, 'a DSN has the null sender (RFC 3464 §2, RFC 5321 §4.5.5)');
  assert.match(dsn, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
  assert.match(dsn, /^Content-Type: message\/delivery-status/m);
  assert.match(dsn, /^Final-Recipient: rfc822; nobody@example\.test/m);
  assert.match(dsn, /^Action: failed/m);
  assert.match(dsn, /^Status: 5\.1\.1/m);
  assert.match(dsn, /^Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@example\.test>/m);
  assert.match(dsn, /^Content-Type: text\/rfc822-headers/m);
  assert.match(dsn, /^Subject: bounce-1/m, 'the original header section is returned');
  assert.doesNotMatch(dsn, /Body of bounce-1/, 'the body is not reflected');
  assert.doesNotMatch(dsn, /alice@example\.test>?: /, 'the delivered recipient is not reported');
  assert.deepEqual(await spoolEntries(), []);
});

test('a null-sender message that fails produces no DSN', { skip: skip ?? false }, async () => {
  const dsnsBefore = (await postfix.messages('sender@client.test')).length;
  const r = await sendOne(gateway.inbound.port, '', ['nobody@example.test'], testMessage({ subject: 'null-sender', from: 'MAILER-DAEMON@client.test' }));
  assert.equal(r.code, 250, r.reply);
  const [record] = await waitFor('failed trace', async () => {
    const rows = (await gateway.store.queryTrace({ recipient: 'nobody@example.test' })).filter((t) => t.subject === 'null-sender');
    return rows.length > 0 && rows[0].deliveryStatus === 'failed' && rows;
  });
  assert.match(record.deliveryReply ?? '', /^550 5\.1\.1/);
  await gateway.queue.whenIdle();
  await new Promise((res) => setTimeout(res, 1000));
  assert.deepEqual(await spoolEntries(), [], 'nothing queued: no DSN was made');
  assert.equal((await postfix.messages('sender@client.test')).length, dsnsBefore);
});

test('outage: deferrals show in `mxward queue list`; after `queue flush` everything is delivered', { skip: skip ?? false }, async () => {
  await postfix.stop();
  const base = (await postfix.messages('bob@example.test')).length;
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['bob@example.test'], testMessage({ subject: `outage-${i}`, to: 'bob@example.test' }));
    assert.equal(r.code, 250, r.reply);
    ids.push(/<([A-Z0-9]+)>/.exec(r.reply)![1]);
  }
  const listed = await waitFor('deferrals', async () => {
    const out = await mxward(gateway.dataDir, ['queue', 'list', '--json']);
    const entries = JSON.parse(out.stdout) as Array<{ queueId: string; status: string; attempts: number; lastReply: string }>;
    return entries.length === 5 && entries.every((e) => e.status === 'deferred') && entries;
  });
  assert.deepEqual(listed.map((e) => e.queueId).sort(), [...ids].sort());
  for (const e of listed) assert.match(e.lastReply, /ECONNREFUSED|ECONNECTION|connect/i);
  const table = await mxward(gateway.dataDir, ['queue', 'list']);
  assert.match(table.stdout, /deferred/);
  assert.match(table.stdout, /5 message\(s\) queued/);
  const shown = await mxward(gateway.dataDir, ['queue', 'show', ids[0]]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /bob@example\.test\s+pending\s+1/);

  await postfix.start();
  await new Promise((res) => setTimeout(res, 1000)); // the start-up probe's connect reaches the log late
  const connectsBefore = await postfix.connectionCount();
  const flushed = await mxward(gateway.dataDir, ['queue', 'flush']);
  assert.equal(flushed.code, 0, flushed.stderr);
  await waitFor('delivery after the outage', async () => (await postfix.messages('bob@example.test')).length >= base + 5);
  await waitFor('empty queue', async () => (await spoolEntries()).length === 0);
  // Five messages over at most `concurrency` (2) connections: sessions are reused (RFC 5321 §3.3).
  const connects = (await postfix.connectionCount()) - connectsBefore;
  assert.ok(connects >= 1 && connects <= 2, `${connects} connections for 5 messages`);
  const empty = await mxward(gateway.dataDir, ['queue', 'list', '--json']);
  assert.deepEqual(JSON.parse(empty.stdout), []);
  const rows = await gateway.store.queryTrace({ recipient: 'bob@example.test' });
  const outage = rows.filter((t) => t.subject?.startsWith('outage-'));
  assert.equal(outage.length, 5);
  for (const t of outage) {
    assert.equal(t.deliveryStatus, 'delivered');
    assert.equal(t.deliveryAttempts, 2);
  }
});

// After a Postfix reload the old smtpd keeps serving sessions it has; mxward keeps an idle
// connection for reuse for 5 s (smtp-relay.ts), so a table change is seen after that.
const settle = () => new Promise((res) => setTimeout(res, 5_500));

test('a recipient deferred with 450 is retried alone; the one already delivered is not sent again', { skip: skip ?? false }, async () => {
  await postfix.setRecipientAccess(['bob@example.test 450 4.2.0 mailbox busy, try later']);
  await settle();
  const aliceBefore = (await postfix.messages('alice@example.test')).length;
  const bobBefore = (await postfix.messages('bob@example.test')).length;
  const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test', 'bob@example.test'], testMessage({ subject: 'partial-1' }));
  assert.equal(r.code, 250, r.reply);
  const id = /<([A-Z0-9]+)>/.exec(r.reply)![1];
  const shown = await waitFor('a deferred bob', async () => {
    const out = await mxward(gateway.dataDir, ['queue', 'show', id, '--json']);
    if (out.code !== 0) return false;
    const e = JSON.parse(out.stdout) as { recipients: Array<{ address: string; state: string; lastReply: string | null }> };
    return e.recipients.every((x) => x.lastReply !== null) && e;
  });
  assert.deepEqual(shown.recipients.map((x) => [x.address, x.state]), [['alice@example.test', 'delivered'], ['bob@example.test', 'pending']]);
  assert.match(shown.recipients[1].lastReply!, /^450 4\.2\.0/);
  assert.equal((await postfix.messages('alice@example.test')).length, aliceBefore + 1);

  await postfix.setRecipientAccess([]);
  await settle();
  const retried = await mxward(gateway.dataDir, ['queue', 'retry', id]);
  assert.equal(retried.code, 0, retried.stderr);
  await waitFor('bob after the retry', async () => (await postfix.messages('bob@example.test')).length === bobBefore + 1);
  await waitFor('empty queue', async () => (await spoolEntries()).length === 0);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal((await postfix.messages('alice@example.test')).length, aliceBefore + 1, 'alice got it exactly once');
  const [record] = (await gateway.store.queryTrace({ recipient: 'bob@example.test' })).filter((t) => t.subject === 'partial-1');
  assert.equal(record.deliveryStatus, 'delivered');
  assert.equal(record.deliveryAttempts, 2);
});
