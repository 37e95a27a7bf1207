// External sender tagging end to end (issue 18): real SMTP clients against the listener, the
// delivered Maildir copy read by Python's email package and mailparser. Anonymous mail is tagged
// once; mail attributed to a partner connector is not; a message larger than the spool writer's
// memory buffer is rewritten by streaming, its body byte for byte intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { startDkimTaggingGateway } from '../helpers/dkim-tagging-gateway.ts';
import { readWithPython } from '../helpers/message-readers.ts';
import { dnsServerUnavailable } from '../helpers/dns-server.ts';

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    config: { delivery: { rescanSeconds: 0.1 } },
    policy: (doc) => ({
      ...doc, externalTagging: 'subject',
      acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
      connectors: [{ name: 'partner-bank', type: 'partner', enabled: true, senderDomains: ['bank.test'], senderIPAddresses: ['127.0.0.0/8'], tlsSenderCertificateName: null, restrictDomainsToIPAddresses: true, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false, comment: '' }],
    }),
  });
});
after(async () => {
  await gw?.close();
});

async function send(from: string, to: string, raw: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: 'mail.client.test' });
  const info = await transport.sendMail({ envelope: { from, to }, raw });
  assert.deepEqual(info.accepted, [to]);
}

function message(from: string, to: string, subject: string, body: string): string {
  return `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${to.replace(/\W/g, '')}@client.test>\r\nDate: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;
}

const subjectLines = (m: string) => m.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^subject:/i.test(l));

test('anonymous mail: Subject prefixed once, X-Mxward-External stamped, valid for Python and mailparser, traced', async () => {
  await send('news@fabrikam.test', 'alice@contoso.test', message('news@fabrikam.test', 'alice@contoso.test', '=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from Fabrikam', 'Hello.'));
  const [delivered] = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 1);
  assert.deepEqual(subjectLines(delivered), ['Subject: [EXTERNAL] =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from Fabrikam']);
  assert.match(delivered, /^X-Mxward-External: yes\r$/m);
  const parsed = await simpleParser(Buffer.from(delivered));
  assert.equal(parsed.subject, '[EXTERNAL] Grüße from Fabrikam');
  assert.equal(parsed.text?.trim(), 'Hello.');
  const [python] = await readWithPython([Buffer.from(delivered)]);
  assert.equal(python.names.filter((n) => n === 'subject').length, 1);
  assert.deepEqual(python.from, ['news@fabrikam.test']);
  const record = await gw.waitForTrace({ recipient: 'alice@contoso.test' });
  assert.equal(record.attribution, 'anonymous');
  assert.ok(record.hits.some((h) => h.rule === 'externalTag' && /Subject prefixed/.test(h.detail)), JSON.stringify(record.hits));
});

test('a reply that already carries the tag is not tagged twice; a sender-forged X-Mxward-External is replaced', async () => {
  const raw = message('news@fabrikam.test', 'bob@contoso.test', 'RE: [EXTERNAL] Invoice', 'Thanks.').replace('Subject:', 'X-Mxward-External: forged\r\nSubject:');
  await send('news@fabrikam.test', 'bob@contoso.test', raw);
  const [delivered] = await waitForMaildir(gw.dataDir, 'bob@contoso.test', 1);
  assert.deepEqual(subjectLines(delivered), ['Subject: RE: [EXTERNAL] Invoice']);
  assert.doesNotMatch(delivered, /forged/);
  assert.equal(delivered.match(/^X-Mxward-External:/gm)?.length, 1);
});

test('mail attributed to a partner connector is not tagged', async () => {
  await send('statements@bank.test', 'carol@contoso.test', message('statements@bank.test', 'carol@contoso.test', 'Statement', 'Your statement.'));
  const [delivered] = await waitForMaildir(gw.dataDir, 'carol@contoso.test', 1);
  const record = await gw.waitForTrace({ recipient: 'carol@contoso.test' });
  assert.equal(record.attribution, 'partner', 'precondition: the connector attributed it');
  assert.deepEqual(subjectLines(delivered), ['Subject: Statement']);
  assert.doesNotMatch(delivered, /^X-Mxward-External:/m);
  assert.ok(!record.hits.some((h) => h.rule === 'externalTag'));
});

test('a message larger than the in-memory buffer is rewritten by streaming, its body intact', async () => {
  const body = Array.from({ length: 4000 }, (_, i) => `line ${i} ${'x'.repeat(60)}`).join('\r\n');
  await send('bulk@fabrikam.test', 'dave@contoso.test', message('bulk@fabrikam.test', 'dave@contoso.test', 'Big report', body));
  const [delivered] = await waitForMaildir(gw.dataDir, 'dave@contoso.test', 1);
  assert.ok(delivered.length > 256 * 1024);
  assert.deepEqual(subjectLines(delivered), ['Subject: [EXTERNAL] Big report']);
  const deliveredBody = delivered.slice(delivered.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '');
  const digest = (s: string) => createHash('sha256').update(s).digest('hex');
  assert.equal(digest(deliveredBody), digest(body));
  // The first spool file (the untagged original) is gone: nothing is left in the spool's tmp.
  const leftovers = (await readdir(gw.dataDir, { recursive: true })).filter((n) => /(^|\/)tmp\/.*\.eml$/.test(n));
  assert.deepEqual(leftovers, []);
});

test('header mode stamps the header and leaves the Subject alone', async () => {
  await gw.setPolicy((doc) => ({ ...doc, externalTagging: 'header' }));
  try {
    await send('news@fabrikam.test', 'erin@contoso.test', message('news@fabrikam.test', 'erin@contoso.test', 'Plain subject', 'Hi.'));
    const [delivered] = await waitForMaildir(gw.dataDir, 'erin@contoso.test', 1);
    assert.deepEqual(subjectLines(delivered), ['Subject: Plain subject']);
    assert.match(delivered, /^X-Mxward-External: yes\r$/m);
  } finally {
    await gw.setPolicy((doc) => ({ ...doc, externalTagging: 'subject' }));
  }
});

test('off (the default) changes nothing', async () => {
  await gw.setPolicy((doc) => ({ ...doc, externalTagging: 'off' }));
  try {
    await send('news@fabrikam.test', 'frank@contoso.test', message('news@fabrikam.test', 'frank@contoso.test', 'Untouched', 'Hi.'));
    const [delivered] = await waitForMaildir(gw.dataDir, 'frank@contoso.test', 1);
    assert.deepEqual(subjectLines(delivered), ['Subject: Untouched']);
    assert.doesNotMatch(delivered, /^X-Mxward-External:/m);
  } finally {
    await gw.setPolicy((doc) => ({ ...doc, externalTagging: 'subject' }));
  }
});

test('DKIM is verified on the original before the Subject (a signed field) is tagged; the trace shows the pass', { skip: dnsServerUnavailable() ?? false }, async (t) => {
  const { gateway: authGw, transport } = await startDkimTaggingGateway(t, 'subject');
  await transport.sendMail({ from: 'billing@fabrikam.test', to: 'gina@contoso.test', subject: 'Signed invoice', text: 'Invoice attached.' });
  const record = await authGw.waitForTrace({ recipient: 'gina@contoso.test', verdict: 'accept' });
  assert.deepEqual(record.auth?.dkim.map((d) => d.result), ['pass'], 'verified before tagging: a Subject tagged earlier would have broken the signed header hash');
  assert.deepEqual(record.auth?.compauth, { result: 'pass', reason: '100' });
  const [delivered] = await waitForMaildir(authGw.dataDir, 'gina@contoso.test', 1);
  assert.deepEqual(subjectLines(delivered), ['Subject: [EXTERNAL] Signed invoice']);
  assert.match(delivered, /dkim=pass [^\r]*header\.d=fabrikam\.test/);
});
