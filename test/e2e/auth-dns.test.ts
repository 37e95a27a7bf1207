// Email authentication end to end (issue 3): real SMTP clients against the listener, DNS from a
// real Knot server on loopback serving zones this test writes (keys generated here).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import nodemailer from 'nodemailer';
import { dkimSign, sealMessage } from 'mailauth';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { mxward } from '../helpers/commands.ts';
import { waitForMaildir } from '../helpers/maildir.ts';

const unavailable = dnsServerUnavailable();
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const dkimRecord = txt(`v=DKIM1; k=rsa; p=${publicKey}`);

let dns: TestDnsServer;
let gw: TestGateway;

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer([
    // fabrikam.test: strict sender, SPF does not cover the test client (127.0.0.1).
    'fabrikam.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"',
    '_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=reject"',
    `s1._domainkey.fabrikam.test. 60 IN TXT ${dkimRecord}`,
    // tailspin.test: monitoring-only DMARC.
    'tailspin.test. 60 IN TXT "v=spf1 -all"',
    '_dmarc.tailspin.test. 60 IN TXT "v=DMARC1; p=none"',
    `s1._domainkey.tailspin.test. 60 IN TXT ${dkimRecord}`,
    // Two forwarders that seal ARC; only the first is trusted by the gateway.
    `arc._domainkey.lists.forwarder.test. 60 IN TXT ${dkimRecord}`,
    `arc._domainkey.untrusted.test. 60 IN TXT ${dkimRecord}`,
  ]);
  gw = await startTestGateway({
    config: { auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, trustedArcSealers: ['forwarder.test'] }, delivery: { rescanSeconds: 0.1 } },
    policy: (doc) => ({ ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => {
  await gw?.close();
  await dns?.close();
});

function transport(extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({ host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: 'mail.client.test', ...extra });
}

async function sendRaw(from: string, to: string, raw: string): Promise<{ ok: true } | { ok: false; code: number; response: string }> {
  try {
    await transport().sendMail({ envelope: { from, to }, raw });
    return { ok: true };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string };
    return { ok: false, code: e.responseCode ?? 0, response: e.response ?? String(err) };
  }
}

function message(from: string, to: string, subject: string, body: string): string {
  return `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@client.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\n${body}\r\n`;
}

async function signed(domain: string, raw: string): Promise<string> {
  const result = await dkimSign(raw, { signatureData: [{ signingDomain: domain, selector: 's1', privateKey }] } as Parameters<typeof dkimSign>[1]);
  return result.signatures + raw;
}

test('a DKIM-signed message (nodemailer signs) passes: dkim=pass, dmarc=pass, compauth=pass reason=100, delivered', { skip: unavailable ?? false }, async () => {
  const info = await transport({ dkim: { domainName: 'fabrikam.test', keySelector: 's1', privateKey } })
    .sendMail({ from: 'billing@fabrikam.test', to: 'alice@contoso.test', subject: 'Signed invoice', text: 'Invoice attached.' });
  assert.deepEqual(info.accepted, ['alice@contoso.test']);
  const record = await gw.waitForTrace({ sender: 'billing@fabrikam.test', verdict: 'accept' });
  assert.equal(record.auth?.spf.result, 'fail');
  assert.deepEqual(record.auth?.dkim.map((d) => [d.result, d.domain]), [['pass', 'fabrikam.test']]);
  assert.equal(record.auth?.dmarc.result, 'pass');
  assert.deepEqual(record.auth?.compauth, { result: 'pass', reason: '100' });
  const [delivered] = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 1);
  assert.match(delivered, /^Authentication-Results: mx\.test\.example;\r\n\tspf=fail [^\r]*smtp\.mailfrom=billing@fabrikam\.test[^\r]*\r\n\tspf=none smtp\.helo=mail\.client\.test;\r\n\tdkim=pass [^\r]*header\.s=s1[\s\S]*dmarc=pass[\s\S]*compauth=pass reason=100/m);
});

test('a tampered body fails DKIM: dkim=fail, compauth=fail reason=001, quarantined where the recipient may self-release', { skip: unavailable ?? false }, async () => {
  const raw = await signed('tailspin.test', message('news@tailspin.test', 'bob@contoso.test', 'Tampered', 'Original text.'));
  const r = await sendRaw('news@tailspin.test', 'bob@contoso.test', raw.replace('Original text.', 'Changed text.'));
  assert.deepEqual(r, { ok: true });
  const record = await gw.waitForTrace({ sender: 'news@tailspin.test', verdict: 'quarantine' });
  assert.deepEqual(record.auth?.dkim.map((d) => [d.result, d.domain]), [['fail', 'tailspin.test']]);
  assert.equal(record.auth?.dmarc.result, 'fail');
  assert.deepEqual(record.auth?.compauth, { result: 'fail', reason: '001' });
  // A foreign spoof goes to DefaultFullAccessPolicy: here the recipient's own release is allowed.
  const rel = await mxward(gw.dataDir, ['quarantine', 'release', record.quarantineId!, '--as', 'bob@contoso.test']);
  assert.equal(rel.code, 0, rel.stderr);
  const delivered = await waitForMaildir(gw.dataDir, 'bob@contoso.test', 1);
  assert.match(delivered[0], /dkim=fail \(body hash did not verify\)/);
});

test('the untampered control of the same message passes DKIM', { skip: unavailable ?? false }, async () => {
  const raw = await signed('tailspin.test', message('news@tailspin.test', 'bob@contoso.test', 'Untampered', 'Original text.'));
  assert.deepEqual(await sendRaw('news@tailspin.test', 'bob@contoso.test', raw), { ok: true });
  // The 250 does not wait for the trace record (it follows within milliseconds).
  const record = await gw.waitForTrace({ sender: 'news@tailspin.test', verdict: 'accept' });
  assert.deepEqual(record?.auth?.dkim.map((d) => d.result), ['pass']);
  assert.deepEqual(record?.auth?.compauth, { result: 'pass', reason: '100' });
});

test('DMARC p=reject spoof is refused at end of DATA with 550 5.7.509 and traced', { skip: unavailable ?? false }, async () => {
  const r = await sendRaw('ceo@fabrikam.test', 'carol@contoso.test', message('ceo@fabrikam.test', 'carol@contoso.test', 'Spoof', 'Pay now.'));
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.code, 550);
  assert.equal(r.response, '550 5.7.509 Access denied, sending domain [FABRIKAM.TEST] does not pass DMARC verification and has a DMARC policy of reject');
  const record = await gw.waitForTrace({ sender: 'ceo@fabrikam.test', verdict: 'reject' });
  assert.equal(record.auth?.dmarc.result, 'fail');
  assert.deepEqual(record.auth?.compauth, { result: 'fail', reason: '000' });
  assert.match(record.reply, /^550 5\.7\.509 /);
});

async function forwarded(sealer: string, subject: string): Promise<string> {
  // The original, signed by fabrikam.test; a mailing list adds a footer (breaking DKIM), records
  // what it saw in its ARC-Authentication-Results and seals (RFC 8617 §5.1).
  const original = await signed('fabrikam.test', message('billing@fabrikam.test', 'dave@contoso.test', subject, 'Quarterly numbers.'));
  const modified = original.replace('Quarterly numbers.', 'Quarterly numbers.\r\n-- \r\nSent via the finance list');
  const seal = await sealMessage(modified, {
    signingDomain: sealer, selector: 'arc', privateKey, cv: 'none',
    authResults: `${sealer}; dkim=pass header.d=fabrikam.test; spf=pass smtp.mailfrom=fabrikam.test; dmarc=pass header.from=fabrikam.test`,
  } as Parameters<typeof sealMessage>[1]);
  return seal.toString() + modified;
}

test('forwarded through a trusted ARC sealer: DMARC fails but compauth=pass reason=130, delivered', { skip: unavailable ?? false }, async () => {
  const r = await sendRaw('finance-bounces@lists.forwarder.test', 'dave@contoso.test', await forwarded('lists.forwarder.test', 'Via trusted list'));
  assert.deepEqual(r, { ok: true });
  const record = await gw.waitForTrace({ sender: 'finance-bounces@lists.forwarder.test', verdict: 'accept' });
  assert.equal(record.auth?.dmarc.result, 'fail');
  assert.deepEqual(record.auth?.arc, { result: 'pass', sealer: 'lists.forwarder.test' });
  assert.deepEqual(record.auth?.compauth, { result: 'pass', reason: '130' });
  const delivered = await waitForMaildir(gw.dataDir, 'dave@contoso.test', 1);
  assert.match(delivered[0], /arc=pass[\s\S]*compauth=pass reason=130/);
});

test('the same forward sealed by an untrusted sealer is refused with 5.7.509', { skip: unavailable ?? false }, async () => {
  const r = await sendRaw('finance-bounces@untrusted.test', 'dave@contoso.test', await forwarded('untrusted.test', 'Via untrusted list'));
  assert.ok(!r.ok);
  assert.match(r.response, /^550 5\.7\.509 /);
  const record = await gw.waitForTrace({ sender: 'finance-bounces@untrusted.test', verdict: 'reject' });
  assert.deepEqual(record.auth?.arc, { result: 'pass', sealer: 'untrusted.test' });
  assert.deepEqual(record.auth?.compauth, { result: 'fail', reason: '000' });
});
