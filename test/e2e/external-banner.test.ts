// `externalTagging: banner` end to end (issue 18): real SMTP clients against the listener, the
// delivered copies read by Python's email package, in the Maildir and at a downstream real Postfix.
// Anonymous mail arrives with the banner; connector-attributed mail does not (unless partners are
// opted in); a signed message keeps its body and its signature verifies; an oversized one gets the
// header tag only; DKIM is verified on the original before the banner is added, and the trace says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { startDkimTaggingGateway } from '../helpers/dkim-tagging-gateway.ts';
import { readParts } from '../helpers/tagging-readers.ts';
import { dnsServerUnavailable } from '../helpers/dns-server.ts';
import { postfixUnavailable, startPostfix } from '../helpers/postfix.ts';
import { waitFor } from '../helpers/loopback.ts';

const EXTERNAL = 'This message came from outside your organization.';
const IMPERSONATION = 'This message claims to be from your organization but was not sent by it.';
const fixture = (name: string) => readFileSync(new URL(`../fixtures/tagging/${name}`, import.meta.url), 'latin1');
const count = (text: string, needle: string) => text.replace(/\s+/g, ' ').split(needle).length - 1;
const PARTNER = { name: 'partner-bank', type: 'partner' as const, enabled: true, senderDomains: ['bank.test'], senderIPAddresses: ['127.0.0.0/8'], tlsSenderCertificateName: null, restrictDomainsToIPAddresses: true, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false, comment: '' };

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({
    config: { delivery: { rescanSeconds: 0.1 } },
    policy: (doc) => ({
      ...doc, externalTagging: 'banner', externalTagBannerMaxBytes: 64 * 1024,
      acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }], connectors: [PARTNER],
    }),
  });
});
after(async () => {
  await gw?.close();
});

async function send(port: number, from: string, to: string, raw: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, name: 'mail.client.test' });
  const info = await transport.sendMail({ envelope: { from, to }, raw });
  assert.deepEqual(info.accepted, [to]);
}

/** The fixture addressed to `to`, with its own Message-ID so the trace and Maildir keep them apart. */
const addressed = (name: string, to: string) => fixture(name).replace('To: <alice@contoso.test>', `To: <${to}>`).replace(/Message-ID: <[^>]*>/, `Message-ID: <${to}-${name}>`);

async function deliveredTo(to: string): Promise<string> {
  const [delivered] = await waitForMaildir(gw.dataDir, to, 1);
  return delivered;
}

test('anonymous mail arrives in the Maildir with the banner once in its text and HTML parts, traced', async () => {
  await send(gw.inbound.port, 'billing@fabrikam.test', 'alice@contoso.test', addressed('alternative-qp-latin1.eml', 'alice@contoso.test'));
  const delivered = await deliveredTo('alice@contoso.test');
  assert.match(delivered, /^X-Mxward-External: yes\r$/m);
  const [reading] = await readParts([Buffer.from(delivered, 'latin1')]);
  assert.deepEqual(reading.parts.map((p) => [p.type, count(p.text ?? '', EXTERNAL)]), [['text/plain', 1], ['text/html', 1]]);
  assert.ok(reading.parts[0].text?.includes('Mit freundlichen Grüßen'), 'the ISO-8859-1 text still decodes');
  const record = await gw.waitForTrace({ recipient: 'alice@contoso.test' });
  assert.ok(record.hits.some((h) => h.rule === 'externalTag' && /external banner added to text\/plain and text\/html/.test(h.detail)), JSON.stringify(record.hits));
});

test('mail attributed to a partner connector is not bannered; with externalTagPartners it is', async () => {
  await send(gw.inbound.port, 'statements@bank.test', 'bob@contoso.test', addressed('html.eml', 'bob@contoso.test'));
  const untouched = await deliveredTo('bob@contoso.test');
  assert.equal((await gw.waitForTrace({ recipient: 'bob@contoso.test' })).attribution, 'partner');
  assert.equal(count(untouched, EXTERNAL), 0);
  assert.doesNotMatch(untouched, /^X-Mxward-External:/m);
  await gw.setPolicy((doc) => ({ ...doc, externalTagPartners: true }));
  try {
    await send(gw.inbound.port, 'statements@bank.test', 'bob2@contoso.test', addressed('html.eml', 'bob2@contoso.test'));
    const tagged = await deliveredTo('bob2@contoso.test');
    assert.equal(count(tagged, EXTERNAL), 1);
    assert.match(tagged, /^X-Mxward-External: yes\r$/m);
  } finally {
    await gw.setPolicy((doc) => ({ ...doc, externalTagPartners: false }));
  }
});

test('an anonymous message with our domain in From (report mode) gets the stronger banner', async () => {
  const raw = addressed('plain.eml', 'carol@contoso.test').replace('From: Fabrikam Billing <billing@fabrikam.test>', 'From: The CEO <ceo@contoso.test>');
  await send(gw.inbound.port, 'bounce@fabrikam.test', 'carol@contoso.test', raw);
  const delivered = await deliveredTo('carol@contoso.test');
  assert.match(delivered, /^X-Mxward-DirectSend: header-from;would-reject\r$/m);
  const [reading] = await readParts([Buffer.from(delivered, 'latin1')]);
  assert.equal(count(reading.parts[0].text ?? '', IMPERSONATION), 1);
  assert.equal(count(reading.parts[0].text ?? '', EXTERNAL), 0);
});

test('an S/MIME signed message keeps its body (the signature still verifies) and gets the header tag only', async (t) => {
  await send(gw.inbound.port, 'billing@fabrikam.test', 'dave@contoso.test', addressed('smime-signed.eml', 'dave@contoso.test'));
  const delivered = await deliveredTo('dave@contoso.test');
  assert.match(delivered, /^X-Mxward-External: yes\r$/m);
  const original = fixture('smime-signed.eml');
  const body = (m: string) => m.slice(m.indexOf('\r\n\r\n'));
  assert.equal(body(delivered), body(original), 'body byte for byte');
  const dir = await mkdtemp(join(tmpdir(), 'mxward-smime-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'delivered.eml'), delivered, 'latin1');
  const ca = new URL('../fixtures/tagging/smime-signer.pem', import.meta.url).pathname;
  // -no_check_time: the fixture's certificate is checked for its signature, not for today's date.
  const { stderr } = await promisify(execFile)('openssl', ['smime', '-verify', '-in', join(dir, 'delivered.eml'), '-CAfile', ca, '-no_check_time', '-out', join(dir, 'content.txt')]);
  assert.match(stderr, /Verification successful/);
  const record = await gw.waitForTrace({ recipient: 'dave@contoso.test' });
  assert.ok(record.hits.some((h) => /no banner, X-Mxward-External only: multipart\/signed/.test(h.detail)), JSON.stringify(record.hits));
});

test('a message over externalTagBannerMaxBytes keeps its body, gets the header tag, and the trace says why', async () => {
  const big = `From: <news@fabrikam.test>\r\nTo: <erin@contoso.test>\r\nSubject: Big\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n${'y'.repeat(70).concat('\r\n').repeat(1200)}`;
  await send(gw.inbound.port, 'news@fabrikam.test', 'erin@contoso.test', big);
  const delivered = await deliveredTo('erin@contoso.test');
  assert.equal(count(delivered, EXTERNAL), 0);
  assert.match(delivered, /^X-Mxward-External: yes\r$/m);
  const record = await gw.waitForTrace({ recipient: 'erin@contoso.test' });
  assert.ok(record.hits.some((h) => /over externalTagBannerMaxBytes \(65536\)/.test(h.detail)), JSON.stringify(record.hits));
});

test('DKIM is verified on the original, then the banner is added; the trace shows both', { skip: dnsServerUnavailable() ?? false }, async (t) => {
  const { gateway: authGw, transport } = await startDkimTaggingGateway(t, 'banner');
  await transport.sendMail({ from: 'billing@fabrikam.test', to: 'gina@contoso.test', subject: 'Signed invoice', text: 'Invoice attached.', html: '<p>Invoice attached.</p>' });
  const record = await authGw.waitForTrace({ recipient: 'gina@contoso.test', verdict: 'accept' });
  assert.deepEqual(record.auth?.dkim.map((d) => d.result), ['pass'], 'verified before the banner changed the body hash');
  const tagHit = record.hits.find((h) => h.rule === 'externalTag');
  assert.match(tagHit?.detail ?? '', /after authentication of the original: dkim=pass header\.d=fabrikam\.test\): external banner added to text\/plain and text\/html/);
  const [delivered] = await waitForMaildir(authGw.dataDir, 'gina@contoso.test', 1);
  assert.equal(count(delivered, EXTERNAL), 2);
});

test('at a downstream Postfix: the anonymous message arrives bannered, the partner one untouched', { skip: postfixUnavailable() ?? false }, async (t) => {
  const postfix = await startPostfix({ domains: ['pf.test'], mailboxes: ['henry@pf.test', 'ida@pf.test'] });
  t.after(() => postfix.destroy());
  const relay = await startTestGateway({
    config: { delivery: { routes: { 'pf.test': { type: 'smtp', host: '127.0.0.1', port: postfix.port, starttls: 'off' } }, rescanSeconds: 0.1 } },
    policy: (doc) => ({ ...doc, externalTagging: 'banner', acceptedDomains: [{ domain: 'pf.test', includeSubdomains: false, recipients: [] }], connectors: [PARTNER] }),
  });
  t.after(() => relay.close());
  await send(relay.inbound.port, 'billing@fabrikam.test', 'henry@pf.test', addressed('mixed-attachment-base64.eml', 'henry@pf.test'));
  await send(relay.inbound.port, 'statements@bank.test', 'ida@pf.test', addressed('mixed-attachment-base64.eml', 'ida@pf.test'));
  const [henry] = await waitFor('henry at Postfix', async () => { const m = await postfix.messages('henry@pf.test'); return m.length >= 1 && m; });
  const [ida] = await waitFor('ida at Postfix', async () => { const m = await postfix.messages('ida@pf.test'); return m.length >= 1 && m; });
  const [tagged, untouched, original] = await readParts([henry, ida, fixture('mixed-attachment-base64.eml')].map((m) => Buffer.from(m, 'latin1')));
  assert.deepEqual(tagged.parts.map((p) => count(p.text ?? '', EXTERNAL)), [1, 1, 0, 0], 'text and HTML bannered, the attachments not');
  assert.deepEqual(untouched.parts.map((p) => count(p.text ?? '', EXTERNAL)), [0, 0, 0, 0]);
  assert.deepEqual(tagged.parts.slice(2).map((p) => p.sha256), original.parts.slice(2).map((p) => p.sha256), 'attachments byte for byte');
  assert.match(henry, /^X-Mxward-External: yes$/m);
  assert.doesNotMatch(ida, /^X-Mxward-External:/m);
});
