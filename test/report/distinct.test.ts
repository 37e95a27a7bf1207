// The distinct counter behind a source's recipient count (src/report/distinct.ts): exact up to
// EXACT_LIMIT, then a HyperLogLog estimate whose error stays within its bound, and merges that
// do not depend on how the values were split or ordered (the parallel reader relies on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXACT_LIMIT, addHash, distinctCount, hashFolded, isEstimate, mergeDistinct, newDistinct } from '../../src/report/distinct.ts';
import type { DistinctCounter } from '../../src/report/distinct.ts';

const counterOf = (values: Iterable<string>): DistinctCounter => {
  const d = newDistinct();
  for (const v of values) addHash(d, hashFolded(v));
  return d;
};
const addresses = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `user${from + i}@example.com`);

test('exact up to the limit, case-insensitively, duplicates counted once', () => {
  const d = counterOf([...addresses(0, EXACT_LIMIT), ...addresses(0, 50).map((a) => a.toUpperCase()), 'Ärger@Example.com', 'ärger@example.com']);
  assert.equal(isEstimate(d), true, 'one more than the limit turns it into an estimate');
  const exact = counterOf([...addresses(0, EXACT_LIMIT - 1), ...addresses(0, 50).map((a) => a.toUpperCase()), 'Ärger@Example.com', 'ärger@example.com']);
  assert.equal(isEstimate(exact), false);
  assert.equal(distinctCount(exact), EXACT_LIMIT);
});

test('above the limit the estimate stays within 3 standard errors (3 x 3.3%)', () => {
  for (const n of [EXACT_LIMIT + 1, 150, 1_000, 10_000, 100_000, 1_000_000]) {
    const d = newDistinct();
    for (let i = 0; i < n; i++) addHash(d, hashFolded(`rcpt${i}@contoso.com`));
    const estimate = distinctCount(d);
    const error = Math.abs(estimate - n) / n;
    assert.ok(error < 0.1, `${n} distinct values estimated as ${estimate} (${(error * 100).toFixed(1)}% off)`);
    assert.ok(d.hashes.length === 0 && d.sketch?.length === 1024, 'the sketch is the whole state: 1 KiB');
  }
});

test('merging parts gives the count of the whole, in any order and split', () => {
  const all = addresses(0, 5_000);
  const whole = distinctCount(counterOf(all));
  for (const cut of [10, 80, 2_500, 4_990]) {
    const a = counterOf(all.slice(0, cut));
    const b = counterOf(all.slice(cut - 5)); // an overlap, as two ranges of one file would share recipients
    const ab = counterOf([]); mergeDistinct(ab, a); mergeDistinct(ab, b);
    const ba = counterOf([]); mergeDistinct(ba, counterOf(all.slice(cut - 5))); mergeDistinct(ba, counterOf(all.slice(0, cut)));
    assert.equal(distinctCount(ab), whole, `cut at ${cut}`);
    assert.equal(distinctCount(ba), whole, `cut at ${cut}, merged the other way round`);
  }
  const small = counterOf(addresses(0, 40));
  mergeDistinct(small, counterOf(addresses(20, 60)));
  assert.equal(distinctCount(small), 60, 'two exact parts merge exactly');
  assert.equal(isEstimate(small), false);
});
