// Issue 19: certificate names compared exactly. A sub-CA whose name constraints permit only
// partner.test issues leaves whose CN is an odd spelling of our own onPremises connector's name
// (trailing space, trailing dot, full-width letters, soft hyphen, zero-width space). OpenSSL may
// verify such a chain, because a CN that does not look like a host name is not checked against
// the constraints; mxward must then not read it as relay.ours.test. Real STARTTLS sessions by
// nodemailer and swaks against the real listener, with a private CA hierarchy made by openssl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { hasCommand, run } from '../helpers/commands.ts';
import { sha256Fingerprint, TestPki } from '../helpers/certificates.ts';
import type { IssuedCertificate } from '../helpers/certificates.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { loadTlsMaterial } from '../../src/smtp/tls-material.ts';

const haveTools = hasCommand('openssl') && hasCommand('swaks');
const skip = !haveTools && 'openssl or swaks missing';
let gw: TestGateway;
let pki: TestPki;
let subCa: IssuedCertificate;
const leaves = new Map<string, IssuedCertificate>();

/** CN spellings of relay.ours.test that a CA constrained to partner.test must not get past us. */
const ODD_NAMES: Array<[string, string]> = [
  ['trailing-space', 'relay.ours.test '],
  ['trailing-dot', 'relay.ours.test.'],
  ['full-width', '\uff52\uff45\uff4c\uff41\uff59.ours.test'],
  ['soft-hyphen', 'rel\u00aday.ours.test'],
  ['zero-width-space', 'relay\u200b.ours.test'],
];

before(async () => {
  if (!haveTools) return;
  pki = await TestPki.create();
  subCa = await pki.issueSubCa('partner-ca', ['partner.test']);
  for (const [label, cn] of ODD_NAMES) leaves.set(label, await pki.issue(`odd-${label}`, cn, [], { issuer: subCa }));
  // A dNSName with a NUL: 'relay.ours.test\0.partner.test' ends in partner.test, so the constraint
  // holds and the chain verifies; a C string comparison would read it as relay.ours.test.
  // openssl's config cannot spell a NUL, so the extension is given as DER: SEQUENCE { [2] name }.
  const nulName = Buffer.from('relay.ours.test\0.partner.test', 'latin1');
  const sanDer = Buffer.concat([Buffer.from([0x30, nulName.length + 2, 0x82, nulName.length]), nulName]).toString('hex');
  leaves.set('nul-san', await pki.issue('nul-san', 'nul', [], { issuer: subCa, extensions: `extendedKeyUsage=clientAuth\nsubjectAltName=DER:${sanDer}\n` }));
  leaves.set('partner-control', await pki.issue('partner-control', 'relay.partner.test', ['relay.partner.test'], { issuer: subCa }));
  leaves.set('ours-control', await pki.issue('ours-control', 'relay.ours.test', []));
  leaves.set('ours-other-key', await pki.issue('ours-other-key', 'relay.ours.test', ['relay.ours.test']));
  leaves.set('server-auth-only', await pki.issue('server-auth-only', 'relay.ours.test', ['relay.ours.test'], { extendedKeyUsage: 'serverAuth' }));
  leaves.set('partial-wildcard', await pki.issue('partial-wildcard', 'x', ['relay*.ours.test']));
  leaves.set('tld-wildcard', await pki.issue('tld-wildcard', 'x', ['*.test']));
  leaves.set('cn-with-san', await pki.issue('cn-with-san', 'relay.ours.test', ['elsewhere.example']));
  leaves.set('expired', await pki.issue('expired', 'relay.ours.test', ['relay.ours.test'], { days: -1 }));
  leaves.set('not-yet-valid', await pki.issueWithDates('not-yet-valid', 'relay.ours.test', ['relay.ours.test'], new Date(Date.now() + 86_400_000), new Date(Date.now() + 30 * 86_400_000)));
  leaves.set('foreign-ca', await (await TestPki.create()).issue('foreign-ca', 'relay.ours.test', ['relay.ours.test']));
  gw = await startTestGateway({
    config: { tls: { caFile: pki.caFile } },
    policy: (doc) => ({
      ...doc,
      rejectDirectSend: 'enforce',
      acceptedDomains: [{ domain: 'ours.test', includeSubdomains: false, recipients: [] }],
      connectors: [
        {
          name: 'on-prem relay', type: 'onPremises', enabled: true, senderDomains: ['*'], senderIPAddresses: [],
          tlsSenderCertificateName: 'relay.ours.test', restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false,
          requireTls: true, treatMessagesAsInternal: false, comment: '',
        },
        {
          name: 'partner relay', type: 'partner', enabled: true, senderDomains: ['partner.test'], senderIPAddresses: [],
          tlsSenderCertificateName: 'relay.partner.test', restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: true,
          requireTls: true, treatMessagesAsInternal: false, comment: '',
        },
      ],
    }),
  });
});
after(async () => { await gw?.close(); });

type SmtpError = Error & { responseCode?: number; response?: string };

/** One message over STARTTLS presenting `cert` with its chain up to (not including) the root. */
function send(cert: IssuedCertificate | null, from: string, to: string, chain: IssuedCertificate[] = []) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: gw.inbound.port, secure: false, requireTLS: true, name: 'relay.example',
    tls: { rejectUnauthorized: false, ...(cert ? { cert: [cert.cert, ...chain.map((c) => c.cert)].join(''), key: cert.key } : {}) },
  });
  return transport.sendMail({ from, to, subject: 'certificate attribution', text: 'hello' });
}

async function assertRefused(promise: Promise<unknown>, code: RegExp): Promise<void> {
  await assert.rejects(promise, (err: SmtpError) => {
    assert.equal(err.responseCode, 550, err.message);
    assert.match(err.response ?? '', code);
    return true;
  });
}

for (const [label, cn] of ODD_NAMES) {
  test(`CN ${JSON.stringify(cn)} from a sub-CA constrained to partner.test is not relay.ours.test`, { skip }, async () => {
    const rcpt = `victim-${label}@ours.test`;
    // Relay to a foreign domain is what an internal session could do; anonymous gets 5.7.64.
    await assertRefused(send(leaves.get(label)!, 'it@ours.test', `someone-${label}@elsewhere.example`, [subCa]), /5\.7\.64/);
    // Mail as our own domain from an anonymous source is Direct Send: 5.7.68.
    await assertRefused(send(leaves.get(label)!, 'ceo@ours.test', rcpt, [subCa]), /5\.7\.68/);
    const record = await gw.waitForTrace({ recipient: rcpt });
    assert.equal(record.attribution, 'anonymous');
    assert.equal(record.connector, null);
    // OpenSSL verified the chain (the CN is not host-name-like, so the constraint was not
    // applied to it): the refusal is mxward's own name check, and the trace says why.
    assert.equal(record.tlsClientCertificate, cn, 'verified, and recorded byte for byte');
    assert.ok(record.hits.some((h) => h.rule === 'connector' && /not compared/.test(h.detail)), JSON.stringify(record.hits));
  });
}

test('held up: a dNSName with a NUL inside is one odd name, not relay.ours.test', { skip }, async () => {
  await assertRefused(send(leaves.get('nul-san')!, 'it@ours.test', 'nul@elsewhere.example', [subCa]), /5\.7\.64/);
  const record = await gw.waitForTrace({ recipient: 'nul@elsewhere.example' });
  assert.equal(record.tlsClientCertificate, 'relay.ours.test\0.partner.test', 'verified, the whole name recorded');
  assert.ok(record.hits.some((h) => /contains a control character: not compared/.test(h.detail)), JSON.stringify(record.hits));
});

test('control: a proper relay.partner.test leaf from the constrained sub-CA matches the partner connector', { skip }, async () => {
  const info = await send(leaves.get('partner-control')!, 'billing@partner.test', 'frank@ours.test', [subCa]);
  assert.deepEqual(info.accepted, ['frank@ours.test']);
  const [msg] = await waitForMaildir(gw.dataDir, 'frank@ours.test');
  assert.match(msg, /^X-Mxward-AuthAs: Partner/m);
  assert.match(msg, /^X-Mxward-Connector: partner relay/m);
});

test('control: CN relay.ours.test (no SAN) from the root matches onPremises and may relay (swaks)', { skip }, async () => {
  const cert = leaves.get('ours-control')!;
  const r = await run('swaks', ['--server', `127.0.0.1:${gw.inbound.port}`, '--tls', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile,
    '--from', 'it@ours.test', '--to', 'someone@elsewhere.example', '--quit-after', 'RCPT', '--timeout', '10']);
  assert.match(r.stdout, /<~ {2}250 .*\n[^]*RCPT TO:<someone@elsewhere\.example>\n<~ {2}250 /);
});

test('the same odd CN through swaks: relay refused with 5.7.64', { skip }, async () => {
  const leaf = leaves.get('trailing-space')!;
  const chainFile = join(pki.dir, 'trailing-space-chain.crt');
  await writeFile(chainFile, leaf.cert + subCa.cert);
  const r = await run('swaks', ['--server', `127.0.0.1:${gw.inbound.port}`, '--tls', '--tls-cert', chainFile, '--tls-key', leaf.keyFile,
    '--from', 'it@ours.test', '--to', 'someone@elsewhere.example', '--quit-after', 'RCPT', '--timeout', '10']);
  assert.match(r.stdout, /<~\* 550 5\.7\.64 /);
});

test('held up: a serverAuth-only certificate with the right name does not make the session internal', { skip }, async () => {
  await assertRefused(send(leaves.get('server-auth-only')!, 'it@ours.test', 'x@elsewhere.example'), /5\.7\.64/);
});

test('held up: partial and top-level wildcards and a wildcard one label short do not cover the connector name', { skip }, async () => {
  await assertRefused(send(leaves.get('partial-wildcard')!, 'it@ours.test', 'x@elsewhere.example'), /5\.7\.64/);
  await assertRefused(send(leaves.get('tld-wildcard')!, 'it@ours.test', 'x@elsewhere.example'), /5\.7\.64/);
});

test('held up: expired, not-yet-valid and foreign-CA certificates do not make the session internal', { skip }, async () => {
  await assertRefused(send(leaves.get('expired')!, 'it@ours.test', 'expired@elsewhere.example'), /5\.7\.64/);
  await assertRefused(send(leaves.get('foreign-ca')!, 'it@ours.test', 'foreign@elsewhere.example'), /5\.7\.64/);
  await assertRefused(send(leaves.get('not-yet-valid')!, 'it@ours.test', 'not-yet@elsewhere.example'), /5\.7\.64/);
  // The right name in each, so only validity or trust can have refused it.
  for (const rcpt of ['expired@elsewhere.example', 'not-yet@elsewhere.example', 'foreign@elsewhere.example']) {
    assert.equal((await gw.waitForTrace({ recipient: rcpt })).tlsClientCertificate, 'relay.ours.test (unverified)', rcpt);
  }
});

test('held up: a CN is ignored when the certificate has a SAN dNSName', { skip }, async () => {
  await assertRefused(send(leaves.get('cn-with-san')!, 'it@ours.test', 'x@elsewhere.example'), /5\.7\.64/);
});

test('fingerprint pin: the pinned certificate matches, another one with the same name does not', { skip }, async () => {
  const pinned = leaves.get('ours-control')!;
  await gw.setPolicy((doc) => ({
    ...doc,
    connectors: doc.connectors.map((c) => (c.name === 'on-prem relay' ? { ...c, certificateFingerprints: [sha256Fingerprint(pinned)] } : c)),
  }));
  try {
    await assertRefused(send(leaves.get('ours-other-key')!, 'it@ours.test', 'pin-other@elsewhere.example'), /5\.7\.64/);
    // The pinned certificate is still accepted as internal: relay to a foreign domain passes RCPT.
    const r = await run('swaks', ['--server', `127.0.0.1:${gw.inbound.port}`, '--tls', '--tls-cert', pinned.certFile, '--tls-key', pinned.keyFile,
      '--from', 'it@ours.test', '--to', 'pin-ok@elsewhere.example', '--quit-after', 'RCPT', '--timeout', '10']);
    assert.match(r.stdout, /RCPT TO:<pin-ok@elsewhere\.example>\n<~ {2}250 /);
  } finally {
    await gw.setPolicy((doc) => ({ ...doc, connectors: doc.connectors.map((c) => ({ ...c, certificateFingerprints: undefined })) }));
  }
});

/** A hand-driven STARTTLS session (node:tls), for what nodemailer and swaks never do: resume, STARTTLS twice. */
class TlsSmtp {
  #buffer = '';
  #wake: (() => void) | null = null;
  socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#listen(socket);
  }

  #listen(s: Socket): void {
    s.setEncoding('latin1');
    s.on('data', (d: string) => { this.#buffer += d; this.#wake?.(); });
  }

  static async open(port: number, tlsOptions: ConnectionOptions): Promise<{ smtp: TlsSmtp; tls: TLSSocket }> {
    const plain = await new Promise<Socket>((ok, fail) => { const s = netConnect(port, '127.0.0.1', () => ok(s)); s.once('error', fail); });
    const smtp = new TlsSmtp(plain);
    await smtp.reply();
    await smtp.command('EHLO client.example');
    assert.match(await smtp.command('STARTTLS'), /^220/);
    plain.removeAllListeners('data');
    const secure = connectTls({ socket: plain, rejectUnauthorized: false, ...tlsOptions });
    await once(secure, 'secureConnect');
    smtp.socket = secure;
    smtp.#listen(secure);
    return { smtp, tls: secure };
  }

  async reply(): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.#buffer);
      if (m) { this.#buffer = this.#buffer.slice(m[0].length); return m[0].trimEnd(); }
      await new Promise<void>((r) => { const t = setTimeout(r, 50); this.#wake = () => { clearTimeout(t); r(); }; });
    }
    throw new Error(`no reply; buffer ${JSON.stringify(this.#buffer.slice(0, 200))}`);
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

test('held up: a second STARTTLS is refused and the first handshake\'s certificate still decides', { skip }, async () => {
  const attempt = async (options: ConnectionOptions, rcpt: string): Promise<string> => {
    const { smtp } = await TlsSmtp.open(gw.inbound.port, options);
    try {
      await smtp.command('EHLO client.example');
      assert.match(await smtp.command('STARTTLS'), /^5\d\d /);
      assert.match(await smtp.command('MAIL FROM:<it@ours.test>'), /^250/);
      return await smtp.command(`RCPT TO:<${rcpt}>`);
    } finally {
      smtp.close();
    }
  };
  const odd = leaves.get('trailing-space')!;
  assert.match(await attempt({ cert: odd.cert + subCa.cert, key: odd.key }, 'second-starttls-1@elsewhere.example'), /^550 5\.7\.64 /);
  const ours = leaves.get('ours-control')!;
  assert.match(await attempt({ cert: ours.cert, key: ours.key }, 'second-starttls-2@elsewhere.example'), /^250/);
});

test('held up: a resumed TLS session keeps the identity of the handshake it resumes, no more', { skip }, async () => {
  const session = async (options: ConnectionOptions, rcpt: string): Promise<{ reply: string; reused: boolean; ticket: Buffer | undefined }> => {
    const { smtp, tls } = await TlsSmtp.open(gw.inbound.port, options);
    let ticket: Buffer | undefined;
    tls.on('session', (s: Buffer) => { ticket = s; });
    try {
      await smtp.command('EHLO client.example');
      assert.match(await smtp.command('MAIL FROM:<it@ours.test>'), /^250/);
      const reply = await smtp.command(`RCPT TO:<${rcpt}>`);
      await smtp.command('RSET');
      return { reply, reused: tls.isSessionReused(), ticket };
    } finally {
      smtp.close();
    }
  };
  // A session without a certificate, resumed: still anonymous.
  const anonymous = await session({}, 'resume-anon-1@elsewhere.example');
  assert.match(anonymous.reply, /^550 5\.7\.64 /);
  assert.ok(anonymous.ticket, 'the server issued a session ticket');
  const resumedAnonymous = await session({ session: anonymous.ticket }, 'resume-anon-2@elsewhere.example');
  assert.equal(resumedAnonymous.reused, true);
  assert.match(resumedAnonymous.reply, /^550 5\.7\.64 /);
  // The onPremises certificate's session, resumed without presenting anything: the resumption
  // is that certificate's (the ticket is the proof of it), so it may relay as before, not more.
  const ours = leaves.get('ours-control')!;
  const internal = await session({ cert: ours.cert, key: ours.key }, 'resume-ours-1@elsewhere.example');
  assert.match(internal.reply, /^250/);
  const resumedInternal = await session({ session: internal.ticket }, 'resume-ours-2@elsewhere.example');
  assert.equal(resumedInternal.reused, true);
  assert.match(resumedInternal.reply, /^250/);
});

test('a tls.caFile without a readable certificate is a configuration error naming the file, not a trust store that verifies nothing', { skip }, async () => {
  const notCa = join(pki.dir, 'not-a-ca.pem');
  await writeFile(notCa, leaves.get('ours-control')!.key);
  const config = bootstrapSchema.parse({ hostname: 'mx.test.example', tls: { caFile: notCa } });
  await assert.rejects(loadTlsMaterial(config, join(pki.dir, 'tls-state')), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^tls\.caFile: .*not-a-ca\.pem: no PEM certificate in the file$/);
    return true;
  });
  const good = bootstrapSchema.parse({ hostname: 'mx.test.example', tls: { caFile: pki.caFile } });
  assert.match((await loadTlsMaterial(good, join(pki.dir, 'tls-state'))).ca ?? '', /BEGIN CERTIFICATE/);
});
