// Issue 17: the report's threads collect their heaps at a range's end and after each step of growth
// (src/report/import/heap-collector.ts), when Node exposes gc() (the report's child runs with
// --expose-gc); the report is the same with or without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: plain JavaScript without declarations, run before the Node version is known
import { REPORT_NODE_FLAGS } from '../../bin/node-runtime.js';
import { ReportAggregator } from '../../src/report/aggregate.ts';
import { ReportRun } from '../../src/report/build-report.ts';
import { Classifier } from '../../src/report/classify.ts';
import { COLLECT_STEP_BYTES, HeapCollector, exposedGc } from '../../src/report/import/heap-collector.ts';
import { importFileParallel } from '../../src/report/import/parallel-import.ts';
import { readRangeInto } from '../../src/report/import/parallel-worker.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';

/** A fake heap: `used` bytes, which a collection brings down to `live`. */
function fakeHeap(live: number): { used: number; live: number; calls: number; gc: () => void; read: () => number } {
  const h = {
    used: live, live, calls: 0,
    gc: () => { h.calls++; h.used = h.live; },
    read: () => h.used,
  };
  return h;
}

test('a collection comes once the heap grew by the step since the last one, and on request', () => {
  const h = fakeHeap(100);
  const c = new HeapCollector(h.gc, h.read, 50);
  assert.equal(c.maybeCollect(), false);
  h.used = 149;
  assert.equal(c.maybeCollect(), false, 'one byte short of the step');
  h.used = 150;
  assert.equal(c.maybeCollect(), true);
  assert.equal(h.calls, 1);
  // The step counts from what the collection left (live grew to 120), not from the first base.
  h.live = 120;
  h.used = 165;
  assert.equal(c.maybeCollect(), true, '165 - 100 >= 50: base was 100 after the first collection');
  assert.equal(h.used, 120);
  h.used = 169;
  assert.equal(c.maybeCollect(), false, '169 - 120 < 50');
  h.used = 170;
  assert.equal(c.maybeCollect(), true);
  c.collect();
  assert.equal(h.calls, 4);
  assert.equal(c.collections, 4);
  h.used = 150;
  assert.equal(c.maybeCollect(), false, 'collect() resets the base too');
  assert.equal(c.maybeCollect(31), false, 'a step given for one call: 150 - 120 < 31');
  assert.equal(c.maybeCollect(30), true);
  assert.equal(h.calls, 5);
});

test('without gc() nothing collects and the heap is not even looked at', () => {
  let looks = 0;
  const c = new HeapCollector(null, () => { looks++; return 1e12; }, 1);
  assert.equal(c.maybeCollect(), false);
  c.collect();
  assert.equal(c.collections, 0);
  assert.equal(looks, 0);
  assert.ok(COLLECT_STEP_BYTES >= 16 << 20, 'a step of some megabytes: a full collection of a 100 MB heap is not free');
});

test('exposedGc finds the global gc() of --expose-gc, which the report child gets', () => {
  assert.ok(REPORT_NODE_FLAGS.includes('--expose-gc'));
  const had = (globalThis as { gc?: unknown }).gc;
  try {
    const fake = (): void => undefined;
    (globalThis as { gc?: unknown }).gc = fake;
    assert.equal(exposedGc(), fake);
    (globalThis as { gc?: unknown }).gc = 'not a function';
    assert.equal(exposedGc(), null);
    delete (globalThis as { gc?: unknown }).gc;
    assert.equal(exposedGc(), null);
  } finally {
    if (had === undefined) delete (globalThis as { gc?: unknown }).gc;
    else (globalThis as { gc?: unknown }).gc = had;
  }
});

test('a range read looks at its heap every 16,384 rows and collects at its end; the report is the same with gc()', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-heap-collector-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rows = 40_000;
  const lines = ['"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageId","MessageTraceId"'];
  for (let i = 0; i < rows; i++) {
    const t0 = new Date(Date.UTC(2026, 10, 1) + i * 7_000).toISOString();
    lines.push([t0, `ceo${i % 40}@contoso.com`, `user${i % 300}@contoso.com`, `Fax ${i}`, i % 7 ? 'Delivered' : 'Quarantined', '', `198.18.${i % 7}.${i % 211}`, '1000', `<${i}@x>`, `id-${i}`]
      .map((f) => `"${f}"`).join(','));
  }
  const file = join(dir, 'trace.csv');
  writeFileSync(file, `${lines.join('\r\n')}\r\n`);
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  const nowMs = Date.UTC(2026, 11, 1);

  // The wiring: a collector that records what it is asked.
  const asked: string[] = [];
  class Recording extends HeapCollector {
    override maybeCollect(): boolean { asked.push('maybe'); return false; }
    override collect(): void { asked.push('collect'); }
  }
  const now = new Classifier(policy, nowMs);
  const agg = new ReportAggregator((d) => now.isAccepted(d));
  const fd = openSync(file, 'r');
  try {
    const read = await readRangeInto(file, fd, { index: 0, start: 0, end: statSync(file).size, header: null, final: true }, null, now, null, agg, new Recording(null));
    assert.equal(read.clean, true);
  } finally {
    closeSync(fd);
  }
  assert.equal(agg.rows, rows);
  assert.deepEqual(asked, ['maybe', 'maybe', 'collect'], 'two looks at the growth while reading, a collection at the end');

  // The whole parallel read with a gc() that counts: the same report as without one.
  const report = async (): Promise<string> => {
    const run = new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs });
    const outcome = await importFileParallel(file, file, run, { threads: 2, minBytes: 0 });
    assert.equal(outcome.parallel, true);
    return JSON.stringify(run.finish());
  };
  const had = (globalThis as { gc?: unknown }).gc;
  let withGc: string;
  try {
    (globalThis as { gc?: unknown }).gc = () => undefined;
    withGc = await report();
  } finally {
    if (had === undefined) delete (globalThis as { gc?: unknown }).gc;
    else (globalThis as { gc?: unknown }).gc = had;
  }
  assert.equal(withGc, await report());
});
