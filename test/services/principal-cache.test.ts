// The API token cache (services/principal-cache.ts): an entry answers for less than a second,
// never past its token's expiry, and a clear() wins over a lookup that was under way.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRINCIPAL_CACHE_TTL_MS, PrincipalCache } from '../../src/services/principal-cache.ts';
import type { IdentityPrincipal } from '../../src/services/identities.ts';

const reader: IdentityPrincipal = { kind: 'token', name: 'ci', role: 'auditor', scopes: ['read'], addresses: [] };

test('an entry answers for less than the TTL, then the store is asked again', () => {
  const cache = new PrincipalCache();
  cache.set('h1', reader, 10_000, Infinity, cache.generation);
  assert.equal(cache.get('h1', 10_000), reader);
  assert.equal(cache.get('h1', 10_000 + PRINCIPAL_CACHE_TTL_MS - 1), reader);
  assert.equal(cache.get('h1', 10_000 + PRINCIPAL_CACHE_TTL_MS), undefined);
  assert.equal(cache.get('h2', 10_000), undefined);
});

test('a token that expires within the TTL is refused from its expiry on', () => {
  const cache = new PrincipalCache();
  cache.set('h1', reader, 10_000, 10_300, cache.generation);
  assert.equal(cache.get('h1', 10_299), reader);
  assert.equal(cache.get('h1', 10_300), undefined);
});

test('clear() empties the cache and drops a lookup that started before it', () => {
  const cache = new PrincipalCache();
  cache.set('h1', reader, 10_000, Infinity, cache.generation);
  const before = cache.generation;
  cache.clear();
  assert.equal(cache.get('h1', 10_000), undefined);
  cache.set('h1', reader, 10_001, Infinity, before);
  assert.equal(cache.get('h1', 10_001), undefined, 'a lookup that raced a revoke is not kept');
  cache.set('h1', reader, 10_002, Infinity, cache.generation);
  assert.equal(cache.get('h1', 10_002), reader);
});

test('a clock that went back does not extend an entry', () => {
  const cache = new PrincipalCache();
  cache.set('h1', reader, 10_000, Infinity, cache.generation);
  assert.equal(cache.get('h1', 9_000), undefined);
});

test('many tokens: the cache stays bounded and keeps answering', () => {
  const cache = new PrincipalCache();
  for (let i = 0; i < 5000; i++) cache.set(`h${i}`, reader, 10_000, Infinity, cache.generation);
  assert.equal(cache.get('h4999', 10_000), reader);
});
