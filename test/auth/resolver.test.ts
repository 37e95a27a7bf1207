// The DNS module against a real Knot server on loopback: shapes mailauth expects, TTL-respecting
// cache, negative answers, TCP fallback for large answers, timeouts and the per-message budget.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { DnsResolver, parseServer } from '../../src/auth/resolver.ts';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';

const unavailable = dnsServerUnavailable();
let dns: TestDnsServer;
let clock = 1_000_000;

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer([
    'short.test. 2 IN TXT "v=spf1 -all"',
    'long.test. 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"',
    `huge.test. 60 IN TXT ${txt('y'.repeat(6000))}`,
    'mx.test. 60 IN MX 10 in.mx.test.',
    'in.mx.test. 60 IN A 192.0.2.10',
    'alias.test. 60 IN CNAME in.mx.test.',
  ]);
});
after(async () => { await dns?.close(); });

function resolver(timeoutMs = 1000): DnsResolver {
  return new DnsResolver({ servers: [{ host: dns.host, port: dns.port }], timeoutMs, tries: 1, maxCacheEntries: 100, maxTtlSeconds: 86_400, now: () => clock });
}

test('parseServer reads IP, IP:PORT and [IPv6]:PORT', () => {
  assert.deepEqual(parseServer('192.0.2.1'), { host: '192.0.2.1', port: 53 });
  assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseServer('[::1]:5300'), { host: '::1', port: 5300 });
  assert.deepEqual(parseServer('::1'), { host: '::1', port: 53 });
});

test('answers in node:dns shapes; NXDOMAIN and NODATA as ENOTFOUND and ENODATA', { skip: unavailable ?? false }, async () => {
  const r = resolver();
  assert.deepEqual(await r.resolve('long.test', 'TXT'), [['v=spf1 ip4:192.0.2.0/24 -all']]);
  assert.deepEqual(await r.resolve('mx.test', 'MX'), [{ priority: 10, exchange: 'in.mx.test' }]);
  assert.deepEqual(await r.resolve('alias.test', 'A'), ['192.0.2.10']);
  await assert.rejects(r.resolve('missing.test', 'TXT'), { code: 'ENOTFOUND' });
  await assert.rejects(r.resolve('long.test', 'AAAA'), { code: 'ENODATA' });
});

test('a TXT answer too large for UDP comes over TCP', { skip: unavailable ?? false }, async () => {
  const [strings] = await resolver().resolve('huge.test', 'TXT') as string[][];
  assert.equal(strings.join('').length, 6000);
});

test('the cache keeps an answer for its TTL and no longer', { skip: unavailable ?? false }, async () => {
  const r = resolver();
  await r.resolve('short.test', 'TXT');
  await r.resolve('long.test', 'TXT');
  assert.equal(r.queriesSent, 2);
  clock += 1000;
  await r.resolve('short.test', 'TXT');
  await r.resolve('long.test', 'TXT');
  assert.equal(r.queriesSent, 2, 'both still cached after 1 s');
  clock += 2000;
  await r.resolve('short.test', 'TXT');
  await r.resolve('long.test', 'TXT');
  assert.equal(r.queriesSent, 3, 'the 2 s record expired, the 3600 s one did not');
});

test('negative answers are cached for the SOA minimum (RFC 2308)', { skip: unavailable ?? false }, async () => {
  const r = resolver();
  await assert.rejects(r.resolve('nothing-here.test', 'TXT'), { code: 'ENOTFOUND' });
  await assert.rejects(r.resolve('nothing-here.test', 'TXT'), { code: 'ENOTFOUND' });
  assert.equal(r.queriesSent, 1);
  clock += 31_000; // the helper's SOA minimum is 30 s
  await assert.rejects(r.resolve('nothing-here.test', 'TXT'), { code: 'ENOTFOUND' });
  assert.equal(r.queriesSent, 2);
});

test('a silent server times out (ETIMEOUT) and the failure is not cached', async () => {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    const r = new DnsResolver({ servers: [{ host: '127.0.0.1', port: sock.address().port }], timeoutMs: 100, tries: 2, maxCacheEntries: 10, maxTtlSeconds: 60 });
    await assert.rejects(r.resolve('x.test', 'TXT'), { code: 'ETIMEOUT' });
    assert.equal(r.queriesSent, 2, 'tries per server');
    await assert.rejects(r.resolve('x.test', 'TXT'), { code: 'ETIMEOUT' });
    assert.equal(r.queriesSent, 4);
  } finally {
    sock.close();
  }
});

test('the per-message lookup stops after its query budget', { skip: unavailable ?? false }, async () => {
  const lookup = resolver().forMessage(5000, 2);
  await lookup('long.test', 'TXT');
  await lookup('mx.test', 'MX');
  await assert.rejects(lookup('alias.test', 'A'), { code: 'ETIMEOUT' });
  assert.equal(lookup.queries(), 3);
});
