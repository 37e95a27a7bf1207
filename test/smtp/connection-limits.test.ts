// Issue 11: the per-IP connection limit counts an IPv6 client by its prefix (/64 by default),
// so addresses from one /64 share one budget; IPv4 and IPv4-mapped IPv6 are one client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimiter, clientKey } from '../../src/smtp/connection-limits.ts';

test('clientKey: IPv6 addresses are keyed by their /64, IPv4 by the address', () => {
  assert.equal(clientKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2:ffff:eeee:dddd:5'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:DB8:1:2:0:0:0:9'), '2001:db8:1:2::/64', 'case and zero forms do not matter');
  assert.notEqual(clientKey('2001:db8:1:3::1'), clientKey('2001:db8:1:2::1'), 'the next /64 is another client');
  assert.equal(clientKey('::1'), '::/64');
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7', 'IPv4-mapped IPv6 is the IPv4 client');
  assert.equal(clientKey('not-an-ip'), 'not-an-ip');
});

test('clientKey: the prefix length is configurable', () => {
  assert.equal(clientKey('2001:db8:1:2ab::1', 56), '2001:db8:1:200::/56');
  assert.equal(clientKey('2001:db8:1:2ff::1', 56), '2001:db8:1:200::/56');
  assert.equal(clientKey('2001:db8::1', 128), '2001:db8::1/128');
  assert.notEqual(clientKey('2001:db8::1', 128), clientKey('2001:db8::2', 128));
});

test('ConnectionLimiter: many addresses of one /64 hit the per-IP limit; another /64 does not', () => {
  const limiter = new ConnectionLimiter(1000, 3);
  const results = Array.from({ length: 50 }, (_, i) => limiter.tryAcquire(`2001:db8:aa:bb::${(i + 1).toString(16)}`));
  assert.deepEqual(results.slice(0, 3), [true, true, true]);
  assert.ok(results.slice(3).every((ok) => !ok), 'addresses 4..50 of the /64 are refused');
  assert.equal(limiter.tryAcquire('2001:db8:aa:bc::1'), true, 'a neighbouring /64 has its own budget');
  limiter.release('2001:db8:aa:bb::1');
  assert.equal(limiter.tryAcquire('2001:db8:aa:bb::ffff'), true, 'a released slot is the /64\'s again');
  assert.equal(limiter.total, 4);
});

test('ConnectionLimiter: with a /128 prefix each IPv6 address counts alone (the old behaviour, by choice)', () => {
  const limiter = new ConnectionLimiter(1000, 1, 128);
  assert.equal(limiter.tryAcquire('2001:db8::1'), true);
  assert.equal(limiter.tryAcquire('2001:db8::2'), true);
  assert.equal(limiter.tryAcquire('2001:db8::1'), false);
});
