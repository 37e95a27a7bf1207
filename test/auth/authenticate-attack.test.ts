// Issue 19 at the runMailauth level, against a real Knot server: auth/ decides DMARC itself for
// ambiguous or unparsable authors (it does not rely on the SMTP layer refusing them), judges an
// unknown source without SPF, and asks the author's DMARC record before any selector can spend
// the query budget. Plus regressions for checks that held up (DKIM x=, h= without From, np).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimSign } from 'mailauth';
import { runMailauth } from '../../src/auth/authenticate.ts';
import type { AuthenticateInput } from '../../src/auth/authenticate.ts';
import { DnsResolver } from '../../src/auth/resolver.ts';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';

const skip = dnsServerUnavailable() ?? false;
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
let dns: TestDnsServer;

before(async () => {
  if (skip) return;
  dns = await startDnsServer([
    'bank.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"',
    '_dmarc.bank.test. 60 IN TXT "v=DMARC1; p=reject"',
    'evil.test. 60 IN TXT "v=spf1 ip4:192.0.2.66 -all"',
    `s1._domainkey.evil.test. 60 IN TXT ${txt(`v=DKIM1; p=${keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`)}`,
    `s1._domainkey.bank.test. 60 IN TXT ${txt(`v=DKIM1; p=${keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`)}`,
    '_dmarc.np.test. 60 IN TXT "v=DMARC1; p=none; np=reject"',
    '_dmarc.two.test. 60 IN TXT "v=DMARC1; p=reject"',
    '_dmarc.two.test. 60 IN TXT "v=DMARC1; p=none"',
    `svc._domainkey.evil.test. 60 IN TXT ${txt(`v=DKIM1; s=other; p=${keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`)}`,
    'np.test. 60 IN A 192.0.2.1',
  ]);
});
after(async () => { await dns?.close(); });

function run(raw: string, change: Partial<AuthenticateInput>, maxQueries = 100) {
  const resolver = new DnsResolver({ servers: [{ host: dns.host, port: dns.port }], timeoutMs: 1000, tries: 1, maxCacheEntries: 0, maxTtlSeconds: 0 });
  return runMailauth({
    messagePath: '/nonexistent', messageBytes: Buffer.from(raw), ip: '192.0.2.66', helo: 'mail.evil.test', mailFrom: 'x@evil.test',
    authservId: 'mx.test', lookup: resolver.forMessage(5000, maxQueries), minKeyBits: 1024, ...change,
  });
}

async function signedByEvil(fromHeader: string, options: Record<string, unknown> = {}): Promise<string> {
  const raw = `${fromHeader}\r\nSubject: pay\r\nDate: ${new Date().toUTCString()}\r\n\r\nPay now.\r\n`;
  const s = await dkimSign(raw, { ...options, signatureData: [{ signingDomain: 'evil.test', selector: 's1', privateKey }] } as Parameters<typeof dkimSign>[1]);
  return s.signatures + raw;
}

test('an ambiguous author fails DMARC for the domains it names, with the strictest policy, whatever mailauth does', { skip }, async () => {
  for (const from of ['From: <ceo@bank.test>\r\nFrom: <ceo@bank.test>', 'From: ceo@bank.test, x@evil.test']) {
    const facts = await run(await signedByEvil(from), { authorDomain: null, namedDomains: ['bank.test', 'evil.test'] });
    assert.deepEqual([facts.dmarc.result, facts.dmarc.domain, facts.dmarc.policy], ['fail', 'bank.test', 'reject'], from);
    assert.equal(facts.spf.result, 'pass', 'the attacker\'s own SPF passes, and does not matter');
  }
});

test('a single author mailauth cannot parse is still judged by mxward: no "no record"', { skip }, async () => {
  const facts = await run(await signedByEvil('From: ceo@evil@bank.test'), { authorDomain: 'bank.test' });
  assert.deepEqual([facts.dmarc.result, facts.dmarc.domain, facts.dmarc.policy], ['fail', 'bank.test', 'reject']);
});

test('an unknown source behind trusted hops: SPF none (not the hop\'s pass), DMARC decided without it', { skip }, async () => {
  const raw = 'From: <ceo@bank.test>\r\nSubject: x\r\n\r\nbody\r\n';
  const known = await run(raw, { ip: '192.0.2.80', mailFrom: 'ceo@bank.test', authorDomain: 'bank.test' });
  assert.equal(known.dmarc.result, 'pass', 'control: the real source passes');
  const unknown = await run(raw, { ip: null, mailFrom: 'ceo@bank.test', authorDomain: 'bank.test' });
  assert.equal(unknown.spf.result, 'none');
  assert.deepEqual([unknown.dmarc.result, unknown.dmarc.policy], ['fail', 'reject']);
});

test('the author\'s DMARC record is asked before the selectors: a query budget spent on 40 selectors leaves it decided', { skip }, async () => {
  let raw = await signedByEvil('From: <ceo@bank.test>');
  for (let i = 0; i < 40; i += 1) raw = (await dkimSign(raw, { signatureData: [{ signingDomain: 'evil.test', selector: `inv${i}`, privateKey }] } as Parameters<typeof dkimSign>[1])).signatures + raw;
  const facts = await run(raw, { authorDomain: 'bank.test', maxDkimSignatures: 41 }, 20);
  assert.deepEqual([facts.dmarc.result, facts.dmarc.policy], ['fail', 'reject']);
  assert.ok(facts.dkim.some((d) => d.result === 'temperror'), 'the budget really ran out');
});

test('held up: an expired signature (x=) does not pass; a signature whose h= omits From does not pass', { skip }, async () => {
  const expired = await run(await signedByEvil('From: <a@evil.test>', { signTime: new Date(Date.now() - 7200_000), expires: new Date(Date.now() - 3600_000) }), { authorDomain: 'evil.test' });
  assert.notEqual(expired.dkim[0]?.result, 'pass');
  const noFrom = await run(await signedByEvil('From: <a@evil.test>', { headerList: ['Subject', 'Date'] }), { authorDomain: 'evil.test' });
  assert.notEqual(noFrom.dkim[0]?.result, 'pass');
  const control = await run(await signedByEvil('From: <a@evil.test>'), { authorDomain: 'evil.test' });
  assert.equal(control.dkim[0]?.result, 'pass');
});

test('held up: np= applies to a non-existent subdomain of the author domain', { skip }, async () => {
  const facts = await run('From: <a@ghost.np.test>\r\nSubject: x\r\n\r\nbody\r\n', { authorDomain: 'ghost.np.test' });
  assert.deepEqual([facts.dmarc.result, facts.dmarc.policy], ['fail', 'reject']);
});

test('a spooled message read from its file: the signature cap applies to the header, the body reaches mailauth intact', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-dkimcap-'));
  try {
    const raw = `From: <ceo@bank.test>\r\nSubject: big\r\nDate: ${new Date().toUTCString()}\r\n\r\n${'z'.repeat(70).concat('\r\n').repeat(4000)}`;
    const sigs = [...Array.from({ length: 5 }, (_, i) => ({ signingDomain: 'evil.test', selector: `x${i}`, privateKey })), { signingDomain: 'bank.test', selector: 's1', privateKey }];
    const path = join(dir, 'm.eml');
    await writeFile(path, (await dkimSign(raw, { signatureData: sigs } as Parameters<typeof dkimSign>[1])).signatures + raw);
    const facts = await run('', { messageBytes: null, messagePath: path, authorDomain: 'bank.test', maxDkimSignatures: 2 });
    assert.equal(facts.dkimNotEvaluated, 4);
    assert.equal(facts.dkim.length, 2);
    assert.deepEqual(facts.dkim.filter((d) => d.domain === 'bank.test').map((d) => d.result), ['pass']);
    assert.equal(facts.dmarc.result, 'pass');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('held up: two DMARC records are no record; a key whose s= excludes email does not verify', { skip }, async () => {
  const two = await run('From: <a@two.test>\r\nSubject: x\r\n\r\nbody\r\n', { authorDomain: 'two.test' });
  assert.deepEqual([two.dmarc.result, two.dmarc.policy], ['none', null]);
  const raw = 'From: <a@evil.test>\r\nSubject: x\r\n\r\nbody\r\n';
  const signed = (await dkimSign(raw, { signatureData: [{ signingDomain: 'evil.test', selector: 'svc', privateKey }] } as Parameters<typeof dkimSign>[1])).signatures + raw;
  const svc = await run(signed, { authorDomain: 'evil.test' });
  assert.notEqual(svc.dkim[0]?.result, 'pass');
});
