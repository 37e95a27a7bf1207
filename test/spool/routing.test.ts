// Routing as a table (pure): exact domain, closest wildcard, default; normalisation of keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRoutingTable, groupByRoute, resolveRoute } from '../../src/spool/routing.ts';
import type { Route } from '../../src/spool/routing.ts';

const smtp = (host: string): Route => ({ type: 'smtp', host, port: 25, starttls: 'opportunistic', verifyCertificate: true, concurrency: 4, connectTimeoutMs: 30_000 });
const table = compileRoutingTable({
  routes: { 'Example.COM.': smtp('exch'), '*.example.com': smtp('sub'), '*.deep.example.com': smtp('deep'), 'bücher.example': smtp('idn') },
  default: { type: 'maildir' },
});

const cases: Array<[string, string, string]> = [
  ['a@example.com', 'example.com', 'exch'],
  ['a@EXAMPLE.com.', 'example.com', 'exch'],
  ['a@eu.example.com', '*.example.com', 'sub'],
  ['a@x.deep.example.com', '*.deep.example.com', 'deep'],
  ['a@deep.example.com', '*.example.com', 'sub'],
  ['a@xn--bcher-kva.example', 'xn--bcher-kva.example', 'idn'],
  ['a@bücher.example', 'xn--bcher-kva.example', 'idn'],
  ['a@other.test', '*', 'maildir'],
  ['a@notexample.com', '*', 'maildir'],
  ['no-at-sign', '*', 'maildir'],
];

for (const [rcpt, key, where] of cases) {
  test(`route ${rcpt} -> ${where}`, () => {
    const r = resolveRoute(table, rcpt);
    assert.equal(r.key, key);
    assert.equal(r.route.type === 'maildir' ? 'maildir' : r.route.host, where);
  });
}

test('groupByRoute keeps each recipient\'s position so outcomes go back in order', () => {
  const groups = groupByRoute(table, ['a@other.test', 'b@example.com', 'c@eu.example.com', 'd@example.com']);
  assert.deepEqual(groups.map((g) => [g.key, g.indexes]), [['*', [0]], ['example.com', [1, 3]], ['*.example.com', [2]]]);
});

test('resolutions are remembered per table: asked again, and asked of another table, each gives its own answer', () => {
  const other = compileRoutingTable({ routes: { 'example.com': smtp('other') }, default: smtp('fallback') });
  for (let round = 0; round < 3; round++) {
    for (const [rcpt, key, host] of cases) {
      const r = resolveRoute(table, rcpt);
      assert.deepEqual([r.key, r.route.type === 'maildir' ? 'maildir' : r.route.host], [key, host], `${rcpt} round ${round}`);
    }
    assert.equal((resolveRoute(other, 'a@EXAMPLE.com.').route as { host: string }).host, 'other');
    assert.equal((resolveRoute(other, 'a@eu.example.com').route as { host: string }).host, 'fallback');
  }
  // More domains than are remembered: answers stay right after the memory is cleared.
  for (let i = 0; i < 3000; i++) assert.equal(resolveRoute(table, `u@h${i}.example.com`).key, '*.example.com');
  assert.equal(resolveRoute(table, 'a@example.com').key, 'example.com');
});
