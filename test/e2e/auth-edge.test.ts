// Authentication edges end to end: a DNS temperror the verdict depends on (451 4.7.26), enhanced
// filtering behind a trusted hop, and the `junk` anti-spoof action. Real clients, real Knot DNS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';

const unavailable = dnsServerUnavailable();
let dns: TestDnsServer;
const gateways: TestGateway[] = [];
const policy = (doc: PolicyDocument): PolicyDocument =>
  ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] });

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer([
    'fabrikam.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"',
    '_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=reject"',
    'contoso.test. 60 IN TXT "v=spf1 ip4:192.0.2.25 -all"',
  ]);
});
after(async () => {
  for (const g of gateways) await g.close();
  await dns?.close();
});

async function gateway(auth: Record<string, unknown>): Promise<TestGateway> {
  const g = await startTestGateway({ config: { auth, delivery: { rescanSeconds: 0.1 } }, policy });
  gateways.push(g);
  return g;
}

async function send(g: TestGateway, from: string, to: string, raw: string) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: g.inbound.port, secure: false, ignoreTLS: true, name: 'relay.client.test' });
  try {
    await t.sendMail({ envelope: { from, to }, raw });
    return '250';
  } catch (err) {
    return (err as { response?: string }).response ?? String(err);
  }
}

/** A UDP port with a socket that reads queries and never answers: every lookup times out. */
async function silentDnsPort(): Promise<{ port: number; close(): void }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => sock.close() };
}

test('a DNS timeout the verdict depends on answers 451 4.7.26, never a guess', { skip: unavailable ?? false }, async () => {
  const silent = await silentDnsPort();
  try {
    const g = await gateway({ dnsServers: [`127.0.0.1:${silent.port}`], dnsTimeoutMs: 100, dnsTries: 1, messageBudgetMs: 2000 });
    const reply = await send(g, 'ceo@fabrikam.test', 'alice@contoso.test', 'From: <ceo@fabrikam.test>\r\nSubject: x\r\n\r\nbody\r\n');
    assert.equal(reply, '451 4.7.26 Temporary authentication failure, try again later');
    const record = await g.waitForTrace({ sender: 'ceo@fabrikam.test', verdict: 'tempfail' });
    assert.equal(record.auth?.spf.result, 'temperror');
    assert.equal(record.auth?.dmarc.result, 'temperror');
    assert.ok(record.hits.some((h) => h.rule === 'auth.temperror'));
  } finally {
    silent.close();
  }
});

test('behind a trusted hop, SPF is judged on the first untrusted Received client (enhanced filtering)', { skip: unavailable ?? false }, async () => {
  const g = await gateway({ dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, trustedHops: ['127.0.0.0/8'] });
  const raw = [
    'Received: from mail.fabrikam.test (mail.fabrikam.test [192.0.2.80])',
    '\tby filter.contoso.test with ESMTPS id abc; Mon, 23 Nov 2026 10:00:00 +0000',
    'From: <billing@fabrikam.test>', 'Subject: via filter', '', 'Invoice.', '',
  ].join('\r\n');
  assert.equal(await send(g, 'billing@fabrikam.test', 'alice@contoso.test', raw), '250');
  const record = await g.waitForTrace({ sender: 'billing@fabrikam.test', verdict: 'accept' });
  assert.equal(record.remoteIp, '127.0.0.1');
  assert.deepEqual(record.auth?.source, { ip: '192.0.2.80', helo: 'mail.fabrikam.test', skippedHops: ['127.0.0.1'] });
  assert.equal(record.auth?.spf.result, 'pass');
  assert.deepEqual(record.auth?.compauth, { result: 'pass', reason: '100' });
  assert.ok(record.hits.some((h) => h.rule === 'enhancedFiltering' && h.detail.includes('192.0.2.80')));

  // The same message without trusted hops is judged on 127.0.0.1 and refused by DMARC.
  const plain = await gateway({ dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1 });
  assert.match(await send(plain, 'billing@fabrikam.test', 'alice@contoso.test', raw), /^550 5\.7\.509 /);
});

test('antiSpoofAction junk: a spoof of our domain is delivered with X-Mxward-SCL and verdict junk', { skip: unavailable ?? false }, async () => {
  const g = await gateway({ dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, antiSpoofAction: 'junk', junkScl: 6 });
  assert.equal(await send(g, 'hr@contoso.test', 'bob@contoso.test', 'From: <hr@contoso.test>\r\nSubject: payroll\r\n\r\nUpdate your bank details.\r\n'), '250');
  const record = await g.waitForTrace({ sender: 'hr@contoso.test', verdict: 'junk' });
  assert.deepEqual(record.auth?.compauth, { result: 'fail', reason: '601' });
  const [delivered] = await waitForMaildir(g.dataDir, 'bob@contoso.test', 1);
  assert.match(delivered, /^X-Mxward-SCL: 6\r$/m);
  assert.match(delivered, /^X-Mxward-Verdict: junk\r$/m);
});

test('antiSpoofAction reject: the spoof is refused with 550 5.7.1', { skip: unavailable ?? false }, async () => {
  const g = await gateway({ dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, antiSpoofAction: 'reject' });
  assert.equal(await send(g, 'hr@contoso.test', 'bob@contoso.test', 'From: <hr@contoso.test>\r\nSubject: payroll\r\n\r\nx\r\n'), '550 5.7.1 Message rejected: sender spoofs an organization domain');
});
