// The admission decision as a table (pure): queue limit, free bytes, free percent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAdmission } from '../../src/spool/back-pressure.ts';

const limits = { minFreeBytes: 100, minFreePercent: 10, maxQueuedMessages: 5 };
const cases: Array<[string, { freeBytes: number; totalBytes: number; queued: number }, boolean, RegExp?]> = [
  ['room everywhere', { freeBytes: 500, totalBytes: 1000, queued: 0 }, true],
  ['queue at its limit', { freeBytes: 500, totalBytes: 1000, queued: 5 }, false, /queue holds 5/],
  ['too few bytes', { freeBytes: 99, totalBytes: 500, queued: 0 }, false, /99 bytes free/],
  ['too small a share', { freeBytes: 150, totalBytes: 2000, queued: 0 }, false, /7\.50% free/],
  ['exactly at the thresholds', { freeBytes: 100, totalBytes: 1000, queued: 4 }, true],
];
for (const [name, m, ok, reason] of cases) {
  test(`admission: ${name}`, () => {
    const a = decideAdmission(limits, m);
    assert.equal(a.ok, ok);
    if (!a.ok && reason) assert.match(a.reason, reason);
  });
}
