// Issue 17: a DKIM key is parsed once per DNS answer, not once per message (auth/key-cache.ts),
// against a real Knot server. The cache must never outlive the record: a rotated key (new TXT
// text) is parsed again and verifies the new signatures, the old key's signatures then fail; and
// a key refused by the size limit stays refused when it comes from the cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { runMailauth } from '../../src/auth/authenticate.ts';
import { SharedKeyCache } from '../../src/auth/key-cache.ts';
import { DnsResolver } from '../../src/auth/resolver.ts';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';

const skip = dnsServerUnavailable() ?? false;
const pair = () => {
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: txt(`v=DKIM1; k=rsa; p=${k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`) };
};
const first = pair();
const second = pair();
const base = ['signed.test. 1 IN TXT "v=spf1 ip4:192.0.2.80 -all"', '_dmarc.signed.test. 1 IN TXT "v=DMARC1; p=reject"'];
let dns: TestDnsServer;

before(async () => {
  if (skip) return;
  dns = await startDnsServer([...base, `s1._domainkey.signed.test. 1 IN TXT ${first.record}`]);
});
after(async () => { await dns?.close(); });

async function signed(privateKey: string, n: number): Promise<Buffer> {
  const raw = `From: <billing@signed.test>\r\nSubject: invoice ${n}\r\nMessage-ID: <${n}@signed.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\nInvoice ${n}.\r\n`;
  const s = await dkimSign(raw, { signatureData: [{ signingDomain: 'signed.test', selector: 's1', privateKey }] } as Parameters<typeof dkimSign>[1]);
  return Buffer.from(s.signatures + raw);
}

function check(resolver: DnsResolver, keyCache: SharedKeyCache, bytes: Buffer, maxKeyBits = 4096) {
  return runMailauth({
    messagePath: '/nonexistent', messageBytes: bytes, ip: '192.0.2.80', helo: 'mail.signed.test', mailFrom: 'billing@signed.test',
    authservId: 'mx.test', lookup: resolver.forMessage(5000, 50), minKeyBits: 1024, maxKeyBits, authorDomain: 'signed.test', keyCache,
  });
}

test('the key is parsed once for many messages, and again once the record changes', { skip }, async () => {
  const resolver = new DnsResolver({ servers: [{ host: dns.host, port: dns.port }], timeoutMs: 1000, tries: 1, maxCacheEntries: 100, maxTtlSeconds: 1 });
  const keyCache = new SharedKeyCache();
  for (let n = 0; n < 5; n++) {
    const facts = await check(resolver, keyCache, await signed(first.privateKey, n));
    assert.equal(facts.dkim[0]?.result, 'pass', `message ${n}`);
    assert.equal(facts.dmarc.result, 'pass');
  }
  assert.equal(keyCache.parsedCount, 1, 'five messages, one parse');

  await dns.setRecords([...base, `s1._domainkey.signed.test. 1 IN TXT ${second.record}`]);
  // The resolver keeps the old answer for its TTL (1 s); wait until it has asked again.
  const until = Date.now() + 10_000;
  let facts = await check(resolver, keyCache, await signed(second.privateKey, 10));
  while (facts.dkim[0]?.result !== 'pass' && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    facts = await check(resolver, keyCache, await signed(second.privateKey, 10));
  }
  assert.equal(facts.dkim[0]?.result, 'pass', 'the rotated key verifies its signatures');
  assert.equal(keyCache.parsedCount, 2, 'the new record was parsed once');
  const old = await check(resolver, keyCache, await signed(first.privateKey, 11));
  assert.equal(old.dkim[0]?.result, 'fail', 'a signature by the retired key no longer passes');
});

test('a key over the size limit is refused on every message, cached or not', { skip }, async () => {
  await dns.setRecords([...base, `s1._domainkey.signed.test. 1 IN TXT ${first.record}`]);
  const resolver = new DnsResolver({ servers: [{ host: dns.host, port: dns.port }], timeoutMs: 1000, tries: 1, maxCacheEntries: 100, maxTtlSeconds: 60 });
  const keyCache = new SharedKeyCache();
  for (let n = 0; n < 3; n++) {
    const facts = await check(resolver, keyCache, await signed(first.privateKey, n), 1024);
    assert.equal(facts.dkim[0]?.result, 'permerror', `message ${n}`);
    assert.match(String(facts.dkim[0]?.comment), /key refused: RSA key of 2048 bits/);
  }
  // With the limit met, the same cache (keyed by limit and text) lets the key through.
  const facts = await check(resolver, keyCache, await signed(first.privateKey, 9));
  assert.equal(facts.dkim[0]?.result, 'pass');
});
