// Issue 17, memory per source: a source keeps all its counters in one tagged array (SourceCounts)
// instead of one array per counter, laid out by the counters' states alone (so a merged source is
// the same array as one counted in one pass). The reference here is CappedCounts, one counter on its own,
// which decides what is kept (the alphabetically first keys up to the cap, the rest as
// "(other)"): counting into a source and merging a worker's clone into it must give, counter by
// counter, the keys, order, counts, "(other)" and largest key that the reference gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator } from '../../src/report/aggregate.ts';
import { mergeSources } from '../../src/report/merge-aggregate.ts';
import { COUNTER_CAPS, COUNTER_FIELDS, CappedCounts, countIn, counterStateOf, newSource } from '../../src/report/source-stats.ts';
import type { CounterField, SourceStats } from '../../src/report/source-stats.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
}

type Reference = Record<CounterField, CappedCounts>;

const newReference = (): Reference => Object.fromEntries(COUNTER_FIELDS.map((f) => [f, new CappedCounts(COUNTER_CAPS[f])])) as Reference;

/**
 * `ops` random counts into both: a few counters per source, keys from a pool somewhat larger than
 * the counter's cap (so counters overflow, and keys below and above the largest kept one come),
 * sometimes a count above 1 as merges add.
 */
function countRandomly(s: SourceStats, ref: Reference, ops: number, rand: () => number, fields: CounterField[]): void {
  for (let i = 0; i < ops; i++) {
    const f = fields[Math.floor(rand() * fields.length)];
    const pool = Math.ceil(COUNTER_CAPS[f] * 1.5) + 1;
    const key = `${f[0]}${Math.floor(rand() * pool).toString(36)}`;
    const n = rand() < 0.8 ? 1 : 1 + Math.floor(rand() * 5);
    countIn(s, f, key, n);
    ref[f].add(key, n);
  }
}

function assertSame(s: SourceStats, ref: Reference, what: string): void {
  for (const f of COUNTER_FIELDS) {
    const got = s[f];
    const want = ref[f];
    assert.deepEqual({ entries: got.entries, other: got.other, maxKey: got.maxKey }, { entries: want.entries, other: want.other, maxKey: want.maxKey }, `${what}: ${f}`);
    assert.deepEqual(counterStateOf(s, f), want.state, `${what}: ${f} state`);
  }
  // The array is a function of the counters' states: grouped in counter order, "(other)" first.
  const layout: Array<string | number | null> = [];
  COUNTER_FIELDS.forEach((f, i) => {
    const want = ref[f];
    if (want.other > 0) layout.push(want.maxKey, want.other * 32 + 16 + i);
    const e = want.entries ?? [];
    for (let j = 0; j < e.length; j += 2) layout.push(e[j], (e[j + 1] as number) * 32 + i);
  });
  assert.deepEqual(s.counts, layout, `${what}: layout`);
}

/** Counters to draw from: the small caps overflow often, `days` (cap 400) with many rows. */
function someFields(rand: () => number): CounterField[] {
  const out = COUNTER_FIELDS.filter(() => rand() < 0.35);
  return out.length > 0 ? out : ['rejectCodes'];
}

test('counting into a source keeps, per counter, what a counter of its own keeps', () => {
  const rand = rng(11);
  for (let round = 0; round < 300; round++) {
    const s = newSource('198.18.0.1', '198.18.0.1');
    const ref = newReference();
    const fields = someFields(rand);
    const ops = Math.floor(rand() * (fields.includes('days') ? 1_500 : 200));
    countRandomly(s, ref, ops, rand, fields);
    assertSame(s, ref, `round ${round} (${ops} counts into ${fields.join(', ')})`);
  }
});

test("merging a worker's clone into a source keeps, per counter, what merging counters of their own keeps", () => {
  const rand = rng(12);
  for (let round = 0; round < 300; round++) {
    const key = '198.18.0.2';
    const a = newSource(key, key);
    const refA = newReference();
    const b = newSource(key, key);
    const refB = newReference();
    const fields = someFields(rand);
    // Sometimes an empty side: the merge then takes the other side's array over.
    countRandomly(a, refA, rand() < 0.15 ? 0 : Math.floor(rand() * 120), rand, fields);
    countRandomly(b, refB, rand() < 0.15 ? 0 : Math.floor(rand() * 120), rand, someFields(rand));
    const agg = new ReportAggregator(() => false);
    agg.sources.set(key, a);
    mergeSources(agg, structuredClone([[key, b]]) as Array<[string, SourceStats]>);
    for (const f of COUNTER_FIELDS) refA[f].addAll(new CappedCounts(COUNTER_CAPS[f], structuredClone(refB[f].state)));
    assertSame(agg.sources.get(key)!, refA, `round ${round}`);
    // And the merged source goes on counting as the reference does.
    countRandomly(agg.sources.get(key)!, refA, 50, rand, fields);
    assertSame(agg.sources.get(key)!, refA, `round ${round}, counting after the merge`);

    // A source the main thread did not have is the worker's, counter for counter.
    const fresh = new ReportAggregator(() => false);
    mergeSources(fresh, structuredClone([[key, b]]) as Array<[string, SourceStats]>);
    assertSame(fresh.sources.get(key)!, refB, `round ${round}, adopted`);
  }
});

test("merging a worker's clone whose keys the source already has adds the counts in place", () => {
  const rand = rng(13);
  for (let round = 0; round < 200; round++) {
    const key = '198.18.0.4';
    const a = newSource(key, key);
    const refA = newReference();
    const fields = someFields(rand);
    // Few counts, so that the counters stay below their caps and keep no "(other)".
    countRandomly(a, refA, 1 + Math.floor(rand() * 8), rand, fields);
    const b = newSource(key, key);
    const refB = newReference();
    for (const f of fields) {
      const e = refA[f].entries ?? [];
      for (let i = 0; i < e.length; i += 2) if (rand() < 0.7) { const n = 1 + Math.floor(rand() * 4); countIn(b, f, e[i] as string, n); refB[f].add(e[i] as string, n); }
    }
    const before = a.counts;
    const agg = new ReportAggregator(() => false);
    agg.sources.set(key, a);
    mergeSources(agg, structuredClone([[key, b]]) as Array<[string, SourceStats]>);
    for (const f of COUNTER_FIELDS) refA[f].addAll(new CappedCounts(COUNTER_CAPS[f], structuredClone(refB[f].state)));
    assertSame(agg.sources.get(key)!, refA, `round ${round}`);
    if (COUNTER_FIELDS.every((f) => refA[f].other === 0)) assert.equal(agg.sources.get(key)!.counts, before, `round ${round}: counted in place`);
  }
});

test('counts beyond the small-integer range stay exact', () => {
  const s = newSource('198.18.0.3', '198.18.0.3');
  const big = 2 ** 40 + 3;
  countIn(s, 'days', '20000', big);
  countIn(s, 'days', '20000', 1);
  countIn(s, 'rejectCodes', '550 5.7.1', 7);
  assert.equal(s.days.get('20000'), big + 1);
  assert.equal(s.rejectCodes.get('550 5.7.1'), 7);
  assert.equal(s.days.total(), big + 1);
});
