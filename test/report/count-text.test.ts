import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countText } from '../../src/report/count-text.ts';

test('countText writes every number as toLocaleString("en-US") does', () => {
  const values = [0, -0, 1, -1, 7, 12, 123, 999, 1000, -1000, 1001, 9999, 10000, 99999, 100000, 999999, 1000000, 1234567,
    -1234567, 12345678, 123456789, 1e12, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, 1.5, -2.25,
    1234.5678, 0.0001, NaN, Infinity, -Infinity];
  // Every digit count up to 16, with random digits, both signs.
  let seed = 17;
  const next = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
  for (let digits = 1; digits <= 16; digits++) {
    for (let k = 0; k < 50; k++) {
      const v = Math.floor(next() * 10 ** digits);
      if (Number.isSafeInteger(v)) values.push(v, -v);
    }
  }
  for (const v of values) assert.equal(countText(v), v.toLocaleString('en-US'), `value ${v}`);
});
