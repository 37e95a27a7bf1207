// The attack from the seed material, end to end with real SMTP clients against the real listener:
// an anonymous client sends MAIL FROM one of our domains to one of our users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { hasCommand, run } from '../helpers/commands.ts';
import { waitForMaildir } from '../helpers/maildir.ts';

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    policy: (doc) => ({ ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => { await gw.close(); });

function swaks(args: string[]) {
  return run('swaks', ['--server', `127.0.0.1:${gw.inbound.port}`, '--helo', 'attacker.invalid', '--timeout', '10', ...args]);
}

const pythonSend = `
import smtplib, sys, json
port, sender, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
s.ehlo('attacker.invalid')
try:
    s.sendmail(sender, [rcpt], 'From: <%s>\\r\\nTo: <%s>\\r\\nSubject: Invoice\\r\\n\\r\\nPlease pay.\\r\\n' % (sender, rcpt))
    print(json.dumps({'result': 'accepted'}))
except smtplib.SMTPRecipientsRefused as e:
    code, msg = e.recipients[rcpt]
    print(json.dumps({'result': 'refused', 'code': code, 'message': msg.decode()}))
s.quit()
`;

test('swaks: anonymous MAIL FROM our domain is refused at RCPT with 550 5.7.68', { skip: !hasCommand('swaks') && 'swaks not installed' }, async () => {
  const r = await swaks(['--from', 'ceo@contoso.test', '--to', 'alice@contoso.test']);
  assert.match(r.stdout, /-> RCPT TO:<alice@contoso\.test>\s*\n<\*\* 550 5\.7\.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources/);
  const record = await gw.waitForTrace({ sender: 'ceo@contoso.test', verdict: 'reject' });
  assert.equal(record.verdict, 'reject');
  assert.equal(record.directSend, 'p1');
  assert.deepEqual(record.rejectedRecipients, ['alice@contoso.test']);
  assert.match(record.reply, /^550 5\.7\.68 /);
});

test('python smtplib: the same attack is refused, mixed-case domain included', { skip: !hasCommand('python3') && 'python3 not installed' }, async () => {
  const r = await run('python3', ['-c', pythonSend, String(gw.inbound.port), 'Payroll@CONTOSO.Test', 'bob@contoso.test']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.result, 'refused');
  assert.equal(out.code, 550);
  assert.match(out.message, /^5\.7\.68 TenantInboundAttribution/);
});

test('mail from a foreign domain to our user is accepted and delivered to the Maildir', async () => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: 'mail.fabrikam.test' });
  const info = await transport.sendMail({ from: 'news@fabrikam.test', to: 'carol@contoso.test', subject: 'Hello', text: 'hi' });
  assert.deepEqual(info.accepted, ['carol@contoso.test']);
  const [msg] = await waitForMaildir(gw.dataDir, 'carol@contoso.test');
  assert.ok(msg, 'message delivered');
  assert.match(msg, /^Received: from mail\.fabrikam\.test/m);
  assert.match(msg, /^X-Mxward-AuthAs: Anonymous/m);
  assert.doesNotMatch(msg, /^X-Mxward-DirectSend/m);
});

test('relay attempt to a foreign recipient is refused', { skip: !hasCommand('swaks') && 'swaks not installed' }, async () => {
  const r = await swaks(['--from', 'x@fabrikam.test', '--to', 'victim@elsewhere.test', '--quit-after', 'RCPT']);
  assert.match(r.stdout, /<\*\* 550 5\.7\.64 TenantAttribution; Relay Access Denied/);
});

test('the same message from a connector IP is accepted and lands in the Maildir', { skip: !hasCommand('swaks') && 'swaks not installed' }, async () => {
  await gw.setPolicy((doc) => ({ ...doc, connectors: [{ name: 'onprem', type: 'onPremises', enabled: true, senderDomains: ['*'], senderIPAddresses: ['127.0.0.0/8'], tlsSenderCertificateName: null, restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: true, comment: '' }] }));
  try {
    const r = await swaks(['--from', 'ceo@contoso.test', '--to', 'dave@contoso.test', '--header', 'Subject: quarterly numbers']);
    assert.match(r.stdout, /<- {2}250 2\.6\.0 /);
    const [msg] = await waitForMaildir(gw.dataDir, 'dave@contoso.test');
    assert.match(msg, /^X-Mxward-Connector: onprem/m);
    assert.match(msg, /^Subject: quarterly numbers/m);
    const record = await gw.waitForTrace({ recipient: 'dave@contoso.test' });
    assert.equal(record.verdict, 'accept');
    assert.equal(record.connector, 'onprem');
    assert.equal(record.directSend, null);
  } finally {
    await gw.setPolicy((doc) => ({ ...doc, connectors: [] }));
  }
});

test('report mode: the spoof is accepted, stamped and traced as would-reject', { skip: !hasCommand('swaks') && 'swaks not installed' }, async () => {
  await gw.setPolicy((doc) => ({ ...doc, rejectDirectSend: 'report' }));
  try {
    const r = await swaks(['--from', 'ceo@contoso.test', '--to', 'erin@contoso.test', '--header', 'X-Mxward-DirectSend: forged-by-sender']);
    assert.match(r.stdout, /<- {2}250 2\.6\.0 /);
    const [msg] = await waitForMaildir(gw.dataDir, 'erin@contoso.test');
    assert.match(msg, /^X-Mxward-DirectSend: p1;would-reject/m);
    assert.doesNotMatch(msg, /forged-by-sender/, 'the sender\'s copy of our header is stripped');
    const record = await gw.waitForTrace({ recipient: 'erin@contoso.test' });
    assert.equal(record.verdict, 'accept');
    assert.equal(record.directSend, 'p1');
    assert.equal(record.directSendWouldReject, true);
  } finally {
    await gw.setPolicy((doc) => ({ ...doc, rejectDirectSend: 'enforce' }));
  }
});
