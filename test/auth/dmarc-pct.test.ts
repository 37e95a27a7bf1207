// DMARC pct (RFC 7489 §6.6.4) and sp, through runMailauth with the resolver against Knot: a
// message outside the sampled percentage gets the next weaker policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMailauth } from '../../src/auth/authenticate.ts';
import { DnsResolver } from '../../src/auth/resolver.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';

const unavailable = dnsServerUnavailable();
let dns: TestDnsServer;
let dir: string;

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer(['_dmarc.sampled.test. 60 IN TXT "v=DMARC1; p=reject; sp=quarantine; pct=50"', 'sampled.test. 60 IN TXT "v=spf1 -all"', 'sub.sampled.test. 60 IN A 192.0.2.9']);
  dir = await mkdtemp(join(tmpdir(), 'mxward-pct-'));
});
after(async () => {
  await dns?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function dmarcFor(from: string, sample: number) {
  const path = join(dir, 'm.eml');
  await writeFile(path, `From: <${from}>\r\nSubject: x\r\n\r\nbody\r\n`);
  const resolver = new DnsResolver({ servers: [{ host: dns.host, port: dns.port }], timeoutMs: 1000, tries: 1, maxCacheEntries: 100, maxTtlSeconds: 60 });
  return (await runMailauth({ messagePath: path, ip: '192.0.2.1', helo: 'x.test', mailFrom: from, authservId: 'mx.test', lookup: resolver.forMessage(5000, 100), minKeyBits: 1024, sample: () => sample })).dmarc;
}

test('pct=50: a sampled message gets p=reject, an unsampled one the weaker quarantine', { skip: unavailable ?? false }, async () => {
  assert.deepEqual({ ...(await dmarcFor('a@sampled.test', 0.2)), comment: null }, { result: 'fail', domain: 'sampled.test', policy: 'reject', pct: 50, sampledOut: false, comment: null });
  const out = await dmarcFor('a@sampled.test', 0.7);
  assert.equal(out.policy, 'quarantine');
  assert.equal(out.sampledOut, true);
});

test('sp= applies to an existing subdomain; pct downgrades it further', { skip: unavailable ?? false }, async () => {
  assert.equal((await dmarcFor('a@sub.sampled.test', 0.2)).policy, 'quarantine');
  assert.equal((await dmarcFor('a@sub.sampled.test', 0.9)).policy, 'none');
});
