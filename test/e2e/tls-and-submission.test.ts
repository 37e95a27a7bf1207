// Certificate-based partner connectors on the inbound listener, and the submission listener's
// STARTTLS + AUTH, with real clients (nodemailer, swaks) and certificates made by openssl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { hasCommand, mxward, run } from '../helpers/commands.ts';
import { TestPki } from '../helpers/certificates.ts';
import type { IssuedCertificate } from '../helpers/certificates.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { RawSession } from '../helpers/smtp-session.ts';

const haveTools = hasCommand('openssl') && hasCommand('swaks');
let gw: TestGateway;
let pki: TestPki;
let partnerCert: IssuedCertificate;
let wrongNameCert: IssuedCertificate;
let selfSignedCert: IssuedCertificate;

before(async () => {
  if (!haveTools) return;
  pki = await TestPki.create();
  partnerCert = await pki.issue('partner', 'ignored-cn.fabrikam.test', ['smtp.fabrikam.test']);
  wrongNameCert = await pki.issue('deep', 'deep', ['a.smtp.fabrikam.test']);
  selfSignedCert = await pki.issue('forged', 'smtp.fabrikam.test', ['smtp.fabrikam.test'], { selfSigned: true });
  gw = await startTestGateway({
    config: { tls: { caFile: pki.caFile } },
    policy: (doc) => ({
      ...doc,
      rejectDirectSend: 'enforce',
      acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
      connectors: [{
        name: 'fabrikam-saas', type: 'partner', enabled: true, senderDomains: ['*'], senderIPAddresses: [],
        tlsSenderCertificateName: 'smtp.fabrikam.test', restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false,
        requireTls: true, treatMessagesAsInternal: false, comment: 'SaaS that sends as contoso.test',
      }],
    }),
  });
  const add = await mxward(gw.dataDir, ['user', 'add', 'alice', '--address', 'alice@contoso.test', '--address', 'sales@contoso.test', '--password-stdin'], 'correct horse battery\n');
  assert.equal(add.code, 0, add.stderr);
});
after(async () => { await gw?.close(); });

function sendWithCertificate(cert: IssuedCertificate | null, to: string) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: gw.inbound.port, secure: false, requireTLS: true, name: 'smtp.fabrikam.test',
    tls: { rejectUnauthorized: false, ...(cert ? { cert: cert.cert, key: cert.key } : {}) },
  });
  return transport.sendMail({ from: 'billing@contoso.test', to, subject: 'Your invoice', text: 'attached' });
}

test('a verified client certificate matching the partner connector is accepted as Partner', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  const info = await sendWithCertificate(partnerCert, 'frank@contoso.test');
  assert.deepEqual(info.accepted, ['frank@contoso.test']);
  const [msg] = await waitForMaildir(gw.dataDir, 'frank@contoso.test');
  assert.match(msg, /^X-Mxward-AuthAs: Partner/m);
  assert.match(msg, /^X-Mxward-Connector: fabrikam-saas/m);
  const record = await gw.waitForTrace({ recipient: 'frank@contoso.test' });
  assert.equal(record.attribution, 'partner');
  assert.match(record.tlsClientCertificate ?? '', /smtp\.fabrikam\.test/);
});

test('a certificate signed by an unknown issuer matches nothing: Direct Send refused', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  await assert.rejects(sendWithCertificate(selfSignedCert, 'gina@contoso.test'), (err: Error & { responseCode?: number; response?: string }) => {
    assert.equal(err.responseCode, 550);
    assert.match(err.response ?? '', /5\.7\.68/);
    return true;
  });
});

test('a name one label deeper does not satisfy the connector name', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  await assert.rejects(sendWithCertificate(wrongNameCert, 'gina@contoso.test'), /5\.7\.68/);
});

test('no certificate at all: refused', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  await assert.rejects(sendWithCertificate(null, 'gina@contoso.test'), /5\.7\.68/);
});

test('submission with AUTH after STARTTLS is accepted and delivered as Internal', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${gw.submission!.port}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice',
    '--auth-password', 'correct horse battery', '--from', 'sales@contoso.test', '--to', 'henry@contoso.test', '--timeout', '10']);
  assert.match(r.stdout, /<~ {2}235 /);
  assert.match(r.stdout, /<~ {2}250 2\.6\.0 /);
  const [msg] = await waitForMaildir(gw.dataDir, 'henry@contoso.test');
  assert.match(msg, /^X-Mxward-AuthAs: Internal/m);
});

test('submission: sending as an address the user does not own is refused with 550 5.7.60', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${gw.submission!.port}`, '--tls', '--auth', 'LOGIN', '--auth-user', 'alice',
    '--auth-password', 'correct horse battery', '--from', 'ceo@contoso.test', '--to', 'henry@contoso.test', '--quit-after', 'RCPT', '--timeout', '10']);
  assert.match(r.stdout, /<~\* 550 5\.7\.60 SMTP; Client does not have permissions to send as this sender/);
});

test('submission: a wrong password is refused with 535 5.7.8', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${gw.submission!.port}`, '--tls', '--auth', 'PLAIN', '--auth-user', 'alice',
    '--auth-password', 'wrong password', '--from', 'alice@contoso.test', '--to', 'henry@contoso.test', '--timeout', '10']);
  assert.match(r.stdout, /<~\* 535 5\.7\.8 /);
});

test('submission without AUTH is refused with 530 5.7.57', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  const r = await run('swaks', ['--server', `127.0.0.1:${gw.submission!.port}`, '--tls', '--from', 'alice@contoso.test', '--to', 'henry@contoso.test', '--quit-after', 'RCPT', '--timeout', '10']);
  assert.match(r.stdout, /<~\* 530 5\.7\.57 Client not authenticated to send mail/);
});

test('submission: AUTH is neither offered nor accepted before STARTTLS, so no password crosses in clear', { skip: !haveTools && 'openssl or swaks missing' }, async () => {
  const s = await RawSession.open(gw.submission!.port);
  try {
    await s.reply();
    const ehlo = await s.command('EHLO client.test') ?? '';
    assert.match(ehlo, /STARTTLS/);
    assert.doesNotMatch(ehlo, /AUTH/);
    const plain = Buffer.from('\0alice\0correct horse battery').toString('base64');
    assert.match(await s.command(`AUTH PLAIN ${plain}`) ?? '', /^5\d\d /);
    assert.match(await s.command('MAIL FROM:<alice@contoso.test>') ?? '', /^530 5\.7\.57 /);
  } finally {
    s.close();
  }
});
