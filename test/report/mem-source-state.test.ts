// Issue 17, memory per source: what a source keeps is bounded whatever its rows bring, a worker's
// source merged into the main thread keeps no more than the main thread's own would, and the
// merge shortcuts (one copy per counter, recipient list and subject list) count exactly what
// adding key by key counts. Sizes are counted from the representation (entries, lengths), not
// from RSS, so the test does not depend on the machine or on when V8 collects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator, addRows } from '../../src/report/aggregate.ts';
import type { SourceStats } from '../../src/report/aggregate.ts';
import { ReportRun } from '../../src/report/build-report.ts';
import { Classifier } from '../../src/report/classify.ts';
import { EXACT_LIMIT, NO_HASHES, addHash, distinctCount, mergeDistinct, newDistinct } from '../../src/report/distinct.ts';
import type { DistinctCounter } from '../../src/report/distinct.ts';
import { mergeSources } from '../../src/report/merge-aggregate.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { COUNTER_CAPS, COUNTER_FIELDS, CappedCounts, NO_RECENT_MESSAGES, NO_SUBJECTS } from '../../src/report/source-stats.ts';
import type { CounterState } from '../../src/report/source-stats.ts';
import { emptyRow } from '../../src/report/types.ts';
import type { ReportRow } from '../../src/report/types.ts';

/** Adds rows of keys not kept, as merging a partial's "(other)" does. */
function addOther(state: CounterState, n: number): CounterState {
  if (state === null) return [n, null];
  (state[0] as number) += n;
  return state;
}

/** Small deterministic generator, so that a failure repeats. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
}

/**
 * Bytes a source's state takes on a 64-bit heap: 8 per field, array element and shared string
 * reference, 48 per array (all counters together are one), 24 per object, its own
 * strings (key, subjects) at 16 + one byte per character, the sketch's 1 KiB. Shared keys
 * (senders, domains, days) are references only.
 */
function sourceBytes(s: SourceStats): number {
  const array = (n: number): number => 48 + 8 * n;
  const text = (t: string): number => 16 + t.length;
  let bytes = 24 + 8 * Object.keys(s).length + text(s.key);
  // The recipients' hashes or sketch (held by the source itself).
  bytes += array(s.recipients.hashes.length) + (s.recipients.sketch ? 1024 : 0);
  // The subjects, packed in one string (source-subjects.ts).
  if (s.subjectsPacked.length > 0) bytes += text(s.subjectsPacked);
  bytes += array(s.recentMessages.length);
  // Every counter in one array (SourceCounts).
  if (s.counts.length > 0) bytes += array(s.counts.length);
  return bytes;
}

/** The most sourceBytes() can be: every list and counter at its cap, subjects at 200 characters. */
const MAX_SOURCE_BYTES = 24 + 8 * 40 + (16 + 300) + 64 + 24 + array0(EXACT_LIMIT) + 1024 + array0(5) + 5 * (16 + 200) + array0(8)
  + COUNTER_FIELDS.reduce((n, f) => n + array0(2 + 2 * COUNTER_CAPS[f]), 0);
function array0(n: number): number { return 48 + 8 * n; }

async function classifier(): Promise<Classifier> {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  return new Classifier(policy, Date.UTC(2026, 11, 1));
}

/** Direct Send rows from `ips`, each with a fresh sender, recipient, subject and day when `distinct`. */
function rows(ips: string[], perIp: number, distinct: boolean, rand: () => number): ReportRow[] {
  const out: ReportRow[] = [];
  for (let r = 0; r < perIp; r++) {
    for (const ip of ips) {
      const n = distinct ? out.length : Math.floor(rand() * 3);
      const row = emptyRow({ file: 't.csv', line: out.length + 1, format: 'message-trace-v2' }, []);
      row.sourceIp = ip;
      row.p1 = `sender${n}@contoso.com`;
      row.recipients = [`user${distinct ? n : Math.floor(rand() * 40)}@contoso.com`];
      // Some rows without a subject, so that some sources keep none.
      row.subject = ip.endsWith('.7') ? null : `Voicemail ${n} ${'x'.repeat(distinct ? 250 : 10)}`;
      row.status = n % 3 === 0 ? 'Quarantined' : 'Delivered';
      row.timeMs = Date.UTC(2025, 0, 1) + (distinct ? n : r) * 86_400_000;
      out.push(row);
    }
  }
  return out;
}

test('a source keeps a bounded state whatever its rows bring (all distinct senders, recipients, subjects and days)', async () => {
  const now = await classifier();
  const agg = new ReportAggregator((d) => now.isAccepted(d));
  addRows(rows(['198.18.0.1'], 3_000, true, rng(1)), now, null, agg);
  const s = agg.sources.get('198.18.0.1')!;
  assert.equal(s.rows, 3_000);
  assert.equal(s.days.size, COUNTER_CAPS.days + 1, 'days at their cap, the rest as "(other)"');
  assert.equal(s.p1Addresses.size, COUNTER_CAPS.p1Addresses + 1);
  assert.ok(s.recipients.sketch !== null && s.recipients.hashes.length === 0, 'past the exact limit only the sketch is kept');
  const bytes = sourceBytes(s);
  assert.ok(bytes <= MAX_SOURCE_BYTES, `${bytes} bytes, at most ${MAX_SOURCE_BYTES}`);
  // Not a bound that anything fits: well below what the input holds (3,000 rows of ~300 bytes).
  assert.ok(MAX_SOURCE_BYTES < 20_000, `the bound itself is ${MAX_SOURCE_BYTES} bytes`);
});

test("a worker's sources merged into the main thread keep what the main thread's own keep, and empty lists stay shared", async () => {
  const now = await classifier();
  const ips = Array.from({ length: 300 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
  const rand = rng(2);
  const worker = new ReportAggregator((d) => now.isAccepted(d));
  addRows(rows(ips, 4, false, rand), now, null, worker);
  const main = new ReportAggregator((d) => now.isAccepted(d));
  // The worker posts its sources as structured clones, in batches.
  const all = [...worker.sources];
  for (let i = 0; i < all.length; i += 100) mergeSources(main, structuredClone(all.slice(i, i + 100)));
  assert.equal(main.sources.size, worker.sources.size);
  let empties = 0;
  for (const [key, own] of worker.sources) {
    const merged = main.sources.get(key)!;
    assert.equal(sourceBytes(merged), sourceBytes(own), `${key}: same size as the worker's own`);
    assert.equal(JSON.stringify(merged), JSON.stringify(own), `${key}: same state`);
    assert.ok(merged.ip === null || merged.ip === merged.key);
    for (const f of COUNTER_FIELDS) assert.ok(merged[f] instanceof CappedCounts, `${key}: ${f} is a counter again`);
    if (own.subjects.length === 0) {
      empties++;
      assert.equal(merged.subjects, NO_SUBJECTS, `${key}: no subjects share the one empty list`);
    }
    if (own.recipients.hashes.length === 0) assert.equal(merged.recipients.hashes, NO_HASHES);
    if (own.recentMessages.length === 0) assert.equal(merged.recentMessages, NO_RECENT_MESSAGES);
  }
  assert.ok(empties > 0, 'some sources had no subject (the test covers the shared empty list)');
});

test('merging a counter in one step counts and orders exactly as adding its keys one by one', () => {
  const rand = rng(3);
  for (let round = 0; round < 2_000; round++) {
    const cap = 1 + Math.floor(rand() * 6);
    const keyOf = (): string => `k${Math.floor(rand() * 12)}`;
    const a1 = new CappedCounts(cap);
    const a2 = new CappedCounts(cap);
    const b = new CappedCounts(cap);
    for (let i = Math.floor(rand() * 10); i > 0; i--) { const k = keyOf(); const n = 1 + Math.floor(rand() * 3); a1.add(k, n); a2.add(k, n); }
    for (let i = Math.floor(rand() * 10); i > 0; i--) b.add(keyOf(), 1 + Math.floor(rand() * 3));
    // The clone is what a worker posts: plain data, no class.
    const clone = new CappedCounts(cap, structuredClone(b.state));
    const e = clone.entries;
    if (e) for (let i = 0; i < e.length; i += 2) a1.add(e[i] as string, e[i + 1] as number);
    if (clone.other > 0) a1.state = addOther(a1.state, clone.other);
    a2.addAll(clone);
    assert.deepEqual({ entries: a2.entries, other: a2.other, maxKey: a2.maxKey }, { entries: a1.entries, other: a1.other, maxKey: a1.maxKey }, `round ${round}, cap ${cap}`);
  }
});

test('merging recipient counters in one step gives the state of adding each hash, across the exact limit', () => {
  const hashes = (n: number, from: number): number[] => Array.from({ length: n }, (_, i) => (from + i) * 2_654_435_761 % 2 ** 53);
  for (const [na, nb, overlap] of [[0, 0, 0], [3, 5, 2], [60, 60, 30], [60, 60, 10], [99, 2, 0], [100, 1, 0], [150, 20, 5], [20, 150, 5], [0, 100, 0]]) {
    const a1 = newDistinct();
    const a2 = newDistinct();
    const b = newDistinct();
    for (const h of hashes(na, 0)) { addHash(a1, h); addHash(a2, h); }
    for (const h of hashes(nb, na - overlap)) addHash(b, h);
    const clone = structuredClone(b) as DistinctCounter;
    if (clone.sketch) { mergeDistinct(a1, clone); } else for (const h of clone.hashes) addHash(a1, h);
    mergeDistinct(a2, clone);
    assert.deepEqual([...a2.hashes].sort(), [...a1.hashes].sort(), `${na} + ${nb} (${overlap} shared): same hashes`);
    assert.deepEqual(a2.sketch, a1.sketch, `${na} + ${nb}: same sketch`);
    assert.equal(distinctCount(a2), distinctCount(a1));
    assert.ok(a2.hashes.length <= EXACT_LIMIT);
  }
});

test('finish() that lets go of the sources gives the same model and keeps none of them', async () => {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  const batch = rows(Array.from({ length: 50 }, (_, i) => `198.18.2.${i}`), 3, false, rng(5));
  const kept = new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: Date.UTC(2026, 11, 1) });
  kept.rows(batch);
  const released = new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: Date.UTC(2026, 11, 1) });
  released.rows(batch);
  assert.equal(JSON.stringify(released.finish({ releaseSources: true })), JSON.stringify(kept.finish()));
  assert.equal(released.aggregator.sources.size, 0);
  assert.equal(kept.aggregator.sources.size, 50);
});
