// Issue 19, trusted hops end to end: behind a filter, the source is read only from the Received
// field that filter itself added, in its MTA's format, never from the HELO the original client
// gave; when it cannot be read, SPF is not evaluated (never the hop's own IP) and the trace says
// why. Each hop connects from its own loopback address (127.0.0.2-5), with a real client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';

const unavailable = dnsServerUnavailable();
const skip = unavailable ?? false;
let dns: TestDnsServer;
let gw: TestGateway;

const HOPS = { exim: '127.0.0.2', qmail: '127.0.0.3', exchange: '127.0.0.4', postfix: '127.0.0.5', sendmail: '127.0.0.6', haraka: '127.0.0.7' } as const;
type Mta = keyof typeof HOPS;

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer([
    'bank.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"',
    '_dmarc.bank.test. 60 IN TXT "v=DMARC1; p=reject"',
    // The shared filter is in every customer's SPF: authenticating it would pass anything.
    'shared.test. 60 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"',
    '_dmarc.shared.test. 60 IN TXT "v=DMARC1; p=reject"',
  ]);
  gw = await startTestGateway({
    config: {
      auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, trustedHops: (Object.entries(HOPS) as Array<[Mta, string]>).map(([mta, ip]) => ({ range: `${ip}/32`, mta })) },
      delivery: { rescanSeconds: 0.1 },
    },
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => {
  await gw?.close();
  await dns?.close();
});

async function viaHop(mta: Mta, sender: string, received: string | null, from = 'ceo@bank.test'): Promise<string> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: `${mta}.filter.test`, localAddress: HOPS[mta] });
  const raw = `${received ? `Received: ${received}\r\n` : ''}From: <${from}>\r\nTo: <alice@contoso.test>\r\nSubject: via ${mta}\r\n\r\nPay now.\r\n`;
  try {
    await t.sendMail({ envelope: { from: sender, to: 'alice@contoso.test' }, raw });
    return '250';
  } catch (err) {
    return (err as { response?: string }).response ?? String(err);
  }
}

// [MTA, Received written for a client at PEER that said HELO [192.0.2.80]]
const written: Record<Mta, (peer: string) => string> = {
  exim: (peer) => `from [${peer}] (helo=[192.0.2.80])\r\n\tby exim.filter.test with esmtp (Exim 4.97)\r\n\tid 1rAbc; Mon, 30 Nov 2026 01:00:00 +0000`,
  qmail: (peer) => `from unknown (HELO ?192.0.2.80?) (${peer})\r\n\tby qmail.filter.test with SMTP; 30 Nov 2026 01:00:00 -0000`,
  exchange: (peer) => `from [192.0.2.80] (${peer}) by EX01.filter.test (10.0.0.4) with Microsoft SMTP Server id 15.2.1544.4; Mon, 30 Nov 2026 01:00:00 +0000`,
  postfix: (peer) => `from [192.0.2.80] (unknown [${peer}])\r\n\tby postfix.filter.test (Postfix) with ESMTP id 4Xy; Mon, 30 Nov 2026 01:00:00 +0000`,
  sendmail: (peer) => `from [192.0.2.80] ([${peer}])\r\n\tby sendmail.filter.test (8.17.1/8.17.1) with ESMTP id 5U1; Mon, 30 Nov 2026 01:00:00 +0000`,
  haraka: (peer) => `from [192.0.2.80] (Unknown [${peer}])\r\n\tby haraka.filter.test (Haraka/3.0.3) with ESMTP id 1A; Mon, 30 Nov 2026 01:00:00 +0000`,
};

for (const mta of Object.keys(HOPS) as Mta[]) {
  test(`${mta} hop: a HELO of [192.0.2.80] from 203.0.113.5 is not the source (550); the real 192.0.2.80 passes`, { skip }, async () => {
    const spoofer = `spoof-${mta}@bank.test`;
    assert.match(await viaHop(mta, spoofer, written[mta]('203.0.113.5')), /^550 5\.7\.509 /);
    const spoof = await gw.waitForTrace({ sender: spoofer, verdict: 'reject' });
    assert.equal(spoof.auth?.source?.ip, '203.0.113.5');
    assert.equal(spoof.auth?.spf.result, 'fail');

    const sender = `real-${mta}@bank.test`;
    assert.equal(await viaHop(mta, sender, written[mta]('192.0.2.80')), '250');
    const real = await gw.waitForTrace({ sender, verdict: 'accept' });
    assert.deepEqual(real.auth?.source, { ip: '192.0.2.80', helo: real.auth?.source?.helo ?? null, skippedHops: [HOPS[mta]] });
    assert.deepEqual(real.auth?.compauth, { result: 'pass', reason: '100' });
  });
}

test('a Received field not in the hop\'s format: SPF not evaluated, never the hop\'s own IP (which the sender\'s SPF lists); the trace says why', { skip }, async () => {
  // Exim's no-rDNS shape arriving through the Postfix hop: unreadable as Postfix.
  assert.match(await viaHop('postfix', 'x@shared.test', written.exim('127.0.0.9'), 'ceo@shared.test'), /^550 5\.7\.509 /);
  const record = await gw.waitForTrace({ sender: 'x@shared.test', verdict: 'reject' });
  assert.equal(record.auth?.spf.result, 'none');
  assert.equal(record.auth?.source?.ip, 'unknown');
  assert.ok(record.hits.some((h) => h.rule === 'enhancedFiltering' && /not in the postfix format/.test(h.detail)), JSON.stringify(record.hits));
});

test('no Received field at all from a trusted hop: likewise conservative', { skip }, async () => {
  assert.match(await viaHop('exchange', 'y@shared.test', null, 'ceo@shared.test'), /^550 5\.7\.509 /);
  const record = await gw.waitForTrace({ sender: 'y@shared.test', verdict: 'reject' });
  assert.ok(record.hits.some((h) => h.rule === 'enhancedFiltering' && /no Received field/.test(h.detail)));
});
