// The quarantine API over real HTTP against a running gateway (issue 13, SPEC §6 and §12): mail
// held by the real SMTP listener, then listed, previewed and acted on by every role. An auditor
// reads and cannot release; the helpdesk approves and denies; a recipient sees only their own
// copies, nothing under AdminOnlyAccessPolicy, request-release under the limited policy, and a
// release they may do is delivered once, through the queue runner into the Maildir.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { holdByTag } from '../helpers/hold-check.ts';
import { waitFor } from '../helpers/loopback.ts';
import { expectError, ok, startWebGateway } from '../helpers/web-client.ts';
import type { ApiResponse, WebClient, WebGateway } from '../helpers/web-client.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';

let gw: WebGateway;
let admin: WebClient;
let helpdesk: WebClient;
let auditor: WebClient;
let alice: WebClient;
let carol: WebClient;
const ids: Record<'full' | 'own' | 'limited' | 'html', string> = { full: '', own: '', limited: '', html: '' };


/** Sends one message through the real listener and returns the quarantine id its trace record names. */
async function hold(tag: string, extra: { headers?: string[]; body?: string } = {}): Promise<string> {
  const subject = `${tag} held ${Math.random().toString(36).slice(2)}`;
  const sent = await sendOne(gw.inbound.port, 'sender@fabrikam.test', ['alice@contoso.test', 'bob@contoso.test'],
    testMessage({ from: 'Sender <sender@fabrikam.test>', to: 'alice@contoso.test', subject, ...extra }));
  assert.match(sent.reply, /^250/, sent.reply);
  const record = await waitFor('the transaction traced', async () => (await gw.store.queryTrace({ verdict: 'quarantine', limit: 50 })).find((r) => r.subject === subject));
  assert.ok(record?.quarantineId, `no quarantine id for ${subject}`);
  return record.quarantineId;
}

before(async () => {
  gw = await startWebGateway({
    config: { quarantine: { pollMs: 100, policies: { foreignSpoof: 'DefaultLimitedAccessPolicy' } }, delivery: { rescanSeconds: 0.1 } },
    endOfDataChecks: [holdByTag],
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
  admin = await gw.tokenClient('administrator');
  helpdesk = await gw.tokenClient('helpdesk');
  auditor = await gw.tokenClient('auditor');
  alice = await gw.recipientLinkLogin('alice@contoso.test');
  carol = await gw.recipientLinkLogin('carol@contoso.test');
  ids.full = await hold('[full]', { body: 'Invoice attached, please pay.' });
  ids.own = await hold('[own]');
  ids.limited = await hold('[limited]');
  ids.html = await hold('[full] html', {
    headers: ['MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8'],
    body: '<html><body><script>alert(1)</script><p>Click <a href="https://phish.example/">here</a></p></body></html>',
  });
});

after(async () => {
  await gw?.close();
});

test('administrators list every held message with every recipient, policy bits and their actions', async () => {
  const res = ok(await admin.get('/quarantine'), 'GET /quarantine');
  const byId = new Map(res.json.items.map((i: { id: string }) => [i.id, i]));
  for (const id of Object.values(ids)) assert.ok(byId.has(id), `${id} listed`);
  const own = byId.get(ids.own) as { policy: string; recipients: Array<{ address: string }>; actions: string[]; permissions: { bits: number } };
  assert.equal(own.policy, 'AdminOnlyAccessPolicy');
  assert.equal(own.permissions.bits, 0);
  assert.deepEqual(own.recipients.map((r) => r.address).sort(), ['alice@contoso.test', 'bob@contoso.test']);
  assert.deepEqual(own.actions, ['preview', 'headers', 'release', 'delete']);
  // Paging: one item per page, the second page starts where the first ended.
  const first = ok(await admin.get('/quarantine?limit=1'), 'page 1');
  const second = ok(await admin.get(`/quarantine?limit=1&offset=${first.json.nextOffset}`), 'page 2');
  assert.equal(first.json.items.length, 1);
  assert.notEqual(first.json.items[0].id, second.json.items[0].id);
  const helpdeskView = ok(await helpdesk.get(`/quarantine?recipient=bob@contoso.test`), 'by recipient');
  assert.deepEqual(helpdeskView.json.items.map((i: { id: string }) => i.id).sort(), Object.values(ids).sort());
  assert.deepEqual(ok(await helpdesk.get('/quarantine?recipient=nobody@contoso.test'), 'nobody').json.items, []);
});

test('preview is plain text of the first text part, never HTML; headers are text', async () => {
  const preview = ok(await auditor.get(`/quarantine/${ids.full}/preview`), 'preview');
  assert.match(String(preview.headers['content-type']), /^text\/plain/);
  assert.equal(preview.text, 'Invoice attached, please pay.');
  const html = ok(await admin.get(`/quarantine/${ids.html}/preview`), 'html preview');
  assert.match(String(html.headers['content-type']), /^text\/plain/);
  assert.doesNotMatch(html.text, /<|>/);
  assert.match(html.text, /Click\s+here/);
  const headers = ok(await auditor.get(`/quarantine/${ids.full}/headers`), 'headers');
  assert.match(String(headers.headers['content-type']), /^text\/plain/);
  assert.match(headers.text, /^X-Mxward-Verdict: quarantine/m);
  assert.match(headers.text, /^Subject: \[full\] held/m);
});

test('an auditor reads but cannot release, approve, deny or delete', async () => {
  ok(await auditor.get(`/quarantine/${ids.full}`), 'auditor show');
  expectError(await auditor.post(`/quarantine/${ids.full}/release`), 403, 'forbidden');
  expectError(await auditor.post(`/quarantine/${ids.limited}/approve`), 403, 'forbidden');
  expectError(await auditor.post(`/quarantine/${ids.limited}/deny`), 403, 'forbidden');
  expectError(await auditor.delete(`/quarantine/${ids.full}`), 403, 'forbidden');
  const still = ok(await admin.get(`/quarantine/${ids.full}`), 'still held');
  assert.ok(still.json.recipients.every((r: { state: string }) => r.state === 'held'));
});

test('a recipient sees only their own copies, nothing under AdminOnlyAccessPolicy, and only the actions their policy allows', async () => {
  const list = ok(await alice.get('/quarantine'), 'alice list');
  const seen = list.json.items.map((i: { id: string }) => i.id);
  assert.ok(seen.includes(ids.full) && seen.includes(ids.limited));
  assert.ok(!seen.includes(ids.own), 'an AdminOnly message is not listed to its recipient');
  for (const item of list.json.items) assert.deepEqual(item.recipients.map((r: { address: string }) => r.address), ['alice@contoso.test']);
  const full = list.json.items.find((i: { id: string }) => i.id === ids.full);
  const limited = list.json.items.find((i: { id: string }) => i.id === ids.limited);
  assert.deepEqual(full.actions, ['preview', 'headers', 'release', 'delete']);
  assert.deepEqual(limited.actions, ['preview', 'headers', 'request-release', 'delete']);

  expectError(await alice.get(`/quarantine/${ids.own}`), 403, 'forbidden');
  expectError(await alice.get(`/quarantine/${ids.own}/preview`), 403, 'forbidden');
  expectError(await alice.post(`/quarantine/${ids.own}/release`), 403, 'forbidden');
  expectError(await alice.post(`/quarantine/${ids.limited}/release`), 403, 'forbidden');
  expectError(await alice.post(`/quarantine/${ids.limited}/approve`), 403, 'forbidden');
  expectError(await alice.get('/quarantine?recipient=bob@contoso.test'), 403, 'forbidden', 'query.recipient');
  // Not a recipient: the message does not exist as far as carol can tell.
  assert.deepEqual(ok(await carol.get('/quarantine'), 'carol list').json.items, []);
  expectError(await carol.get(`/quarantine/${ids.full}`), 404, 'not_found');
  expectError(await carol.post(`/quarantine/${ids.full}/release`), 404, 'not_found');
  expectError(await admin.post(`/quarantine/${ids.own}/request-release`), 403, 'forbidden');
});

test('a recipient release is delivered once, to that recipient only', async () => {
  const before = (await maildirMessages(gw.dataDir, 'alice@contoso.test')).length;
  const released = ok(await alice.post(`/quarantine/${ids.full}/release`), 'alice release');
  assert.deepEqual(released.json.recipients, ['alice@contoso.test']);
  assert.equal(released.json.queueIds.length, 1);
  expectError(await alice.post(`/quarantine/${ids.full}/release`), 409, 'conflict');
  const record = (await gw.store.queryTrace({ limit: 50 })).find((r) => r.quarantineId === ids.full)!;
  const delivered = await waitForMaildir(gw.dataDir, 'alice@contoso.test', before + 1);
  assert.equal(delivered.length, before + 1);
  assert.match(delivered.at(-1)!, /^X-Mxward-Verdict: quarantine; released .* by recipient:alice@contoso\.test/m);
  // The trace record follows the release to its delivery; by then still exactly one copy arrived.
  const traced = await waitFor('the transaction traced', async () => (await gw.store.queryTrace({ transactionId: record.transactionId }))
    .find((r) => r.queueId === released.json.queueIds[0] && r.deliveryStatus === 'delivered'));
  assert.equal(traced.transactionId, record.transactionId);
  assert.equal((await maildirMessages(gw.dataDir, 'alice@contoso.test')).length, before + 1);
  const item = ok(await admin.get(`/quarantine/${ids.full}`), 'after release').json;
  assert.deepEqual(item.recipients.map((r: { address: string; state: string }) => `${r.address}:${r.state}`).sort(), ['alice@contoso.test:released', 'bob@contoso.test:held']);
});

test('limited policy: request, helpdesk denies, request again, administrator approves: delivered to the requester', async () => {
  const requested = ok(await alice.post(`/quarantine/${ids.limited}/request-release`), 'request');
  assert.deepEqual(requested.json.recipients, ['alice@contoso.test']);
  expectError(await alice.post(`/quarantine/${ids.limited}/request-release`), 409, 'conflict');
  const waiting = ok(await helpdesk.get('/quarantine?state=requested'), 'requests');
  assert.deepEqual(waiting.json.items.map((i: { id: string }) => i.id), [ids.limited]);
  assert.ok(waiting.json.items[0].actions.includes('approve'));
  assert.deepEqual(ok(await helpdesk.post(`/quarantine/${ids.limited}/deny`), 'deny').json.recipients, ['alice@contoso.test']);
  expectError(await helpdesk.post(`/quarantine/${ids.limited}/deny`), 409, 'conflict');
  ok(await alice.post(`/quarantine/${ids.limited}/request-release`), 'request again');
  const before = (await maildirMessages(gw.dataDir, 'alice@contoso.test')).length;
  const approved = ok(await admin.post(`/quarantine/${ids.limited}/approve`), 'approve');
  assert.deepEqual(approved.json.recipients, ['alice@contoso.test']);
  const delivered = await waitForMaildir(gw.dataDir, 'alice@contoso.test', before + 1);
  assert.match(delivered.at(-1)!, /^Subject: \[limited\] held/m);
  // The audit log names who did what, as the API saw them.
  const actions = (await gw.store.listAudit(500)).map((a) => `${a.actor} ${a.action}`);
  assert.ok(actions.some((a) => /^api:\S+ quarantine\.approve$/.test(a)), actions.join('\n'));
  assert.ok(actions.some((a) => /^api:\S+ quarantine\.deny$/.test(a)), actions.join('\n'));
  assert.ok(actions.some((a) => /^recipient:alice@contoso\.test as alice@contoso\.test quarantine\.request-release$/.test(a)), actions.join('\n'));
});

test('delete: a recipient removes their copy, an administrator the message', async () => {
  const removed = ok(await alice.delete(`/quarantine/${ids.html}`), 'alice delete');
  assert.deepEqual(removed.json.recipients, ['alice@contoso.test']);
  expectError(await alice.get(`/quarantine/${ids.html}`), 404, 'not_found');
  ok(await admin.get(`/quarantine/${ids.html}`), 'bob still has it');
  ok(await helpdesk.delete(`/quarantine/${ids.html}`), 'helpdesk delete');
  expectError(await admin.get(`/quarantine/${ids.html}`), 404, 'not_found');
  expectError(await admin.delete(`/quarantine/${ids.html}`), 404, 'not_found');
});

test('two releases at once: one wins, the other is a conflict, and one copy arrives', async () => {
  const id = await hold('[full] race');
  const bobBefore = (await maildirMessages(gw.dataDir, 'bob@contoso.test')).length;
  const answers = await Promise.all([admin.post(`/quarantine/${id}/release`), helpdesk.post(`/quarantine/${id}/release`)]);
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409], answers.map((a) => a.text).join(' | '));
  const delivered = await waitForMaildir(gw.dataDir, 'bob@contoso.test', bobBefore + 1);
  const winner = answers.find((a) => a.status === 200)!;
  await waitFor('the transaction traced', async () => (await gw.store.queryTrace({ limit: 100 })).find((r) => r.queueId === winner.json.queueIds[0] && r.deliveryStatus === 'delivered'));
  assert.equal((await maildirMessages(gw.dataDir, 'bob@contoso.test')).length, bobBefore + 1);
  assert.equal(delivered.filter((m) => /^Subject: \[full\] race/m.test(m)).length, 1);
});

test('bad requests: field paths, no stack traces; no credentials: 401', async () => {
  expectError(await admin.get('/quarantine?limit=0'), 400, 'validation_failed', 'query.limit');
  expectError(await admin.get('/quarantine?state=everything'), 400, 'validation_failed', 'query.state');
  expectError(await admin.get('/quarantine?offset=99999'), 400, 'validation_failed', 'query.offset');
  expectError(await admin.get('/quarantine/no-such-id'), 404, 'not_found');
  expectError(await gw.client().get('/quarantine'), 401, 'unauthenticated');
  const readOnly = await gw.tokenClient('helpdesk', ['read']);
  expectError(await readOnly.post(`/quarantine/${ids.own}/release`), 403, 'forbidden');
});
