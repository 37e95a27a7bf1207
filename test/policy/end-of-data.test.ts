// The end-of-DATA verdict: the strictest objection of the checks wins, and every rule is traced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Verdict } from '../../src/domain/types.ts';
import { combineCheckOutcomes } from '../../src/policy/end-of-data.ts';

const v = (action: Verdict['action'], rule: string): Verdict => ({ action, reply: null, stage: 'data', hits: [{ rule, detail: rule }] });

test('no objection is an accept with no verdict', () => {
  assert.deepEqual(combineCheckOutcomes([{ verdict: null, scl: null }]), { verdict: null, scl: null, hits: [] });
});

test('the strictest objection wins whatever the order, and all rules are kept', () => {
  const outcomes = [{ verdict: v('junk', 'a'), scl: 5 }, { verdict: v('reject', 'b'), scl: null }, { verdict: v('quarantine', 'c'), scl: 6 }];
  for (const order of [outcomes, [...outcomes].reverse()]) {
    const got = combineCheckOutcomes(order);
    assert.equal(got.verdict?.action, 'reject');
    assert.deepEqual(got.hits.map((h) => h.rule).sort(), ['a', 'b', 'c']);
  }
  assert.equal(combineCheckOutcomes([{ verdict: v('tempfail', 't'), scl: null }, { verdict: v('quarantine', 'q'), scl: 6 }]).verdict?.action, 'tempfail');
});
