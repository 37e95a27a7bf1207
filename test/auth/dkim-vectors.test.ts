// DKIM vectors (../shared/corpus/dkim_test_vectors, read in place) verified the way the gateway
// does it: runMailauth() with the DNS module asking a real Knot server that serves the vectors'
// key records. Expected answers are the upstream projects' (see the corpus README).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runMailauth } from '../../src/auth/authenticate.ts';
import { DnsResolver } from '../../src/auth/resolver.ts';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';

const root = fileURLToPath(new URL('../../../shared/corpus/dkim_test_vectors/', import.meta.url));
const skip = !existsSync(root) ? 'DKIM vectors absent: ../shared/corpus/dkim_test_vectors not found (corpus absent)' : dnsServerUnavailable();
const read = (p: string) => readFileSync(`${root}${p}`, 'utf8').trim();

/** Deviations from the upstream expectations, with reasons; empty means none were found. */
export const DEVIATIONS: Record<string, string> = {};

let dns: TestDnsServer;
before(async () => {
  if (skip) return;
  dns = await startDnsServer([]);
});
after(async () => { await dns?.close(); });

async function verify(records: string[], message: string) {
  await dns.setRecords(records);
  const resolver = new DnsResolver({ servers: [{ host: dns.host, port: dns.port }], timeoutMs: 1000, tries: 1, maxCacheEntries: 0, maxTtlSeconds: 0 });
  const facts = await runMailauth({ messagePath: `${root}${message}`, ip: '192.0.2.1', helo: 'mail.example', mailFrom: null, authservId: 'mx.test', lookup: resolver.forMessage(5000, 100), minKeyBits: 1024 });
  return facts.dkim.map((d) => `${d.domain}/${d.selector}=${d.result}`).sort();
}

const brisbane = 'v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=';

test('RFC 8463 example (mailauth fixture): ed25519 and RSA signatures both pass', { skip: skip ?? false }, async () => {
  const zone = JSON.parse(readFileSync(`${root}mailauth_rfc8463/dns.json`, 'utf8')) as Record<string, { TXT?: string[][] }>;
  const records = Object.entries(zone).flatMap(([name, rr]) => (rr.TXT ?? []).map((parts) => `${name}. 60 IN TXT ${txt(parts.join(''))}`));
  assert.deepEqual(await verify(records, 'mailauth_rfc8463/signed.eml'), ['football.example.com/brisbane=pass', 'football.example.com/test=pass']);
});

test('dkimpy rfc6376.signed.msg: brisbane (ed25519) and test (RSA) pass', { skip: skip ?? false }, async () => {
  const records = [`brisbane._domainkey.football.example.com. 60 IN TXT ${txt(brisbane)}`, `test._domainkey.football.example.com. 60 IN TXT ${txt(read('dkimpy/test.txt'))}`];
  assert.deepEqual(await verify(records, 'dkimpy/rfc6376.signed.msg'), ['football.example.com/brisbane=pass', 'football.example.com/test=pass']);
});

test('dkimpy: Exim-made ed25519 signature verifies (interop)', { skip: skip ?? false }, async () => {
  assert.deepEqual(await verify([`sed._domainkey.test.ex. 60 IN TXT ${txt(read('dkimpy/eximtest.dns').replace(/^.*?TXT\s*/s, '').replace(/"/g, ''))}`], 'dkimpy/ed25519test2.msg'), ['test.ex/sed=pass']);
});

test('dkimpy: a key record with a bad v= or an unknown k= does not verify', { skip: skip ?? false }, async () => {
  for (const bad of ['dkimpy/badversion.txt', 'dkimpy/badk.txt']) {
    const records = [`brisbane._domainkey.football.example.com. 60 IN TXT ${txt(brisbane)}`, `test._domainkey.football.example.com. 60 IN TXT ${txt(read(bad))}`];
    const results = await verify(records, 'dkimpy/rfc6376.signed.msg');
    assert.ok(results.includes('football.example.com/brisbane=pass'), bad);
    assert.ok(!results.includes('football.example.com/test=pass'), `${bad}: ${results.join(' ')}`);
  }
});

test('dkimpy: a corrupted public key does not verify', { skip: skip ?? false }, async () => {
  const results = await verify([`test._domainkey.football.example.com. 60 IN TXT ${txt(read('dkimpy/test_bad.txt'))}`], 'dkimpy/rfc6376.signed.msg');
  assert.ok(!results.includes('football.example.com/test=pass'), results.join(' '));
  assert.deepEqual(DEVIATIONS, {});
});
