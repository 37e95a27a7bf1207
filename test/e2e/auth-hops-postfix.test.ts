// Issue 19: the Postfix format of trusted hops proven with a real Postfix. A client at 127.0.0.9
// says HELO [192.0.2.80] (the victim's SPF address) to Postfix, Postfix delivers the message
// with its own Received field, and that exact message is then handed to mxward by a hop
// configured as Postfix (127.0.0.5): the source must be 127.0.0.9, never the HELO literal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { parseReceivedFrom } from '../../src/auth/received-chain.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { postfixUnavailable, startPostfix } from '../helpers/postfix.ts';
import type { PostfixInstance } from '../helpers/postfix.ts';
import { waitFor } from '../helpers/loopback.ts';

const skip = postfixUnavailable() ?? dnsServerUnavailable() ?? false;
let postfix: PostfixInstance;
let dns: TestDnsServer;
let gw: TestGateway;

before(async () => {
  if (skip) return;
  // No reverse lookups: Postfix then writes `unknown` (live DNS is blocked in tests).
  postfix = await startPostfix({ domains: ['relay.test'], mailboxes: ['hop@relay.test'], extraMain: ['smtpd_peername_lookup = no'] });
  dns = await startDnsServer(['bank.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"', '_dmarc.bank.test. 60 IN TXT "v=DMARC1; p=reject"']);
  gw = await startTestGateway({
    config: { auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, trustedHops: [{ range: '127.0.0.5/32', mta: 'postfix' }] } },
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => {
  await gw?.close();
  await dns?.close();
  await postfix?.destroy();
});

async function send(port: number, name: string, localAddress: string, from: string, to: string, raw: string): Promise<string> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, name, localAddress });
  try {
    await t.sendMail({ envelope: { from, to }, raw });
    return '250';
  } catch (err) {
    return (err as { response?: string }).response ?? String(err);
  }
}

test('real Postfix: its Received field names the TCP peer; mxward judges that peer, not the HELO literal', { skip }, async () => {
  const original = (subject: string) => `From: <ceo@bank.test>\r\nTo: <alice@contoso.test>\r\nSubject: ${subject}\r\n\r\nPay now.\r\n`;
  assert.equal(await send(postfix.port, '[192.0.2.80]', '127.0.0.9', 'ceo@bank.test', 'hop@relay.test', original('literal helo')), '250');
  // A HELO imitating Postfix's own comment: Postfix rewrites its spaces and parentheses to "?".
  assert.equal(await send(postfix.port, 'x (unknown [192.0.2.80]) y', '127.0.0.9', 'ceo@bank.test', 'hop@relay.test', original('imitating helo')), '250');
  const delivered = await waitFor('Postfix delivery', async () => {
    const m = await postfix.messages('hop@relay.test');
    return m.length >= 2 ? m : null;
  }, 60_000);
  const receivedOf = (m: string) => /^Received: ([^]*?)\r?\n(?=\S)/m.exec(m)![1].replace(/\r?\n[ \t]+/g, ' ');
  const literal = delivered.find((m) => m.includes('literal helo'))!;
  const imitating = delivered.find((m) => m.includes('imitating helo'))!;
  assert.match(receivedOf(literal), /^from \[192\.0\.2\.80\] \(unknown \[127\.0\.0\.9\]\)/);
  assert.deepEqual(parseReceivedFrom(receivedOf(literal), 'postfix'), { ip: '127.0.0.9', helo: '[192.0.2.80]' });
  assert.equal(parseReceivedFrom(receivedOf(imitating), 'postfix')?.ip, '127.0.0.9', receivedOf(imitating));

  // Postfix wrote the message with LF line ends and its own Delivered-To/Return-Path: hand it on as is.
  const relayed = literal.replace(/\r?\n/g, '\r\n');
  assert.match(await send(gw.inbound.port, 'postfix.relay.test', '127.0.0.5', 'ceo@bank.test', 'alice@contoso.test', relayed), /^550 5\.7\.509 /);
  const record = await gw.waitForTrace({ sender: 'ceo@bank.test', verdict: 'reject' });
  assert.deepEqual(record.auth?.source, { ip: '127.0.0.9', helo: '[192.0.2.80]', skippedHops: ['127.0.0.5'] });
  assert.equal(record.auth?.spf.result, 'fail');
});
