// auth.spfHardFailAction end to end (issue 18): a real SMTP client against the listener, SPF from a
// real DNS server on loopback whose zone ends in `-all`. The message carries a valid but unaligned
// DKIM signature, so compauth is softpass (201) and only the SPF hard-fail action can object.
import { test, before, after } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { waitForMaildir } from '../helpers/maildir.ts';

const unavailable = dnsServerUnavailable();
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

let dns: TestDnsServer;

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer([
    // woodgrove.test authorizes one address, not the test client (127.0.0.1), and publishes no DMARC.
    'woodgrove.test. 60 IN TXT "v=spf1 ip4:192.0.2.25 -all"',
    // The signing ESP: its DKIM passes but does not align with woodgrove.test.
    `s1._domainkey.esp.test. 60 IN TXT ${txt(`v=DKIM1; k=rsa; p=${publicKey}`)}`,
  ]);
});
after(async () => {
  await dns?.close();
});

async function gatewayWith(t: TestContext, spfHardFailAction: string): Promise<TestGateway> {
  const gw = await startTestGateway({
    config: { auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1, spfHardFailAction }, delivery: { rescanSeconds: 0.1 } },
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
  t.after(() => gw.close());
  return gw;
}

async function send(gw: TestGateway, subject: string): Promise<{ ok: true } | { ok: false; code: number; response: string }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: 'mail.client.test',
    dkim: { domainName: 'esp.test', keySelector: 's1', privateKey },
  });
  try {
    await transport.sendMail({ from: 'news@woodgrove.test', to: 'alice@contoso.test', subject, text: 'Newsletter.' });
    return { ok: true };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string };
    return { ok: false, code: e.responseCode ?? 0, response: e.response ?? String(err) };
  }
}

const rules = (hits: Array<{ rule: string }>) => hits.map((h) => h.rule);

test('none (the default): SPF fail with compauth softpass is accepted and delivered as today', { skip: unavailable ?? false }, async (t) => {
  const gw = await gatewayWith(t, 'none');
  assert.deepEqual(await send(gw, 'none'), { ok: true });
  const record = await gw.waitForTrace({ sender: 'news@woodgrove.test', verdict: 'accept' });
  assert.equal(record.auth?.spf.result, 'fail');
  assert.deepEqual(record.auth?.compauth, { result: 'softpass', reason: '201' });
  assert.ok(!rules(record.hits).includes('spf.hardFail'));
  const [delivered] = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 1);
  assert.match(delivered, /compauth=softpass reason=201/);
});

test('junk: the same message is junked under its own rule spf.hardFail', { skip: unavailable ?? false }, async (t) => {
  const gw = await gatewayWith(t, 'junk');
  assert.deepEqual(await send(gw, 'junk'), { ok: true });
  const record = await gw.waitForTrace({ sender: 'news@woodgrove.test', verdict: 'junk' });
  assert.deepEqual(record.auth?.compauth, { result: 'softpass', reason: '201' });
  assert.ok(rules(record.hits).includes('spf.hardFail'), JSON.stringify(record.hits));
  // Junk is delivered, marked for the mailbox's junk rule (auth.junkScl).
  const [delivered] = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 1);
  assert.match(delivered, /^X-Mxward-Verdict: junk\r$/m);
  assert.match(delivered, /^X-Mxward-SCL: 6\r$/m);
});

test('quarantine: the same message is quarantined under spf.hardFail', { skip: unavailable ?? false }, async (t) => {
  const gw = await gatewayWith(t, 'quarantine');
  assert.deepEqual(await send(gw, 'quarantine'), { ok: true });
  const record = await gw.waitForTrace({ sender: 'news@woodgrove.test', verdict: 'quarantine' });
  assert.ok(rules(record.hits).includes('spf.hardFail'), JSON.stringify(record.hits));
  assert.ok(record.quarantineId, 'a quarantine id is recorded');
});

test('reject: the same message is refused at end of DATA with 550 5.7.23', { skip: unavailable ?? false }, async (t) => {
  const gw = await gatewayWith(t, 'reject');
  const r = await send(gw, 'reject');
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.code, 550);
  assert.match(r.response, /^550 5\.7\.23 .*SPF hard fail/);
  const record = await gw.waitForTrace({ sender: 'news@woodgrove.test', verdict: 'reject' });
  assert.ok(rules(record.hits).includes('spf.hardFail'), JSON.stringify(record.hits));
  assert.match(record.reply, /^550 5\.7\.23 /);
});
