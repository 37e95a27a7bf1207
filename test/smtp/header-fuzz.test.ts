// A bounded run of the header fuzzer in every test run (issue 11); `npm run fuzz` runs a million.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzHeaders } from '../helpers/header-fuzz.ts';

test('fuzz: 3,000 generated header sections, each refused or read alike by Python and mailparser', async () => {
  const result = await fuzzHeaders(3000, 20261130);
  assert.equal(result.runs, 3000);
  assert.ok(result.accepted >= 300, `only ${result.accepted} accepted: the generator no longer reaches the readers`);
  assert.deepEqual(result.problems, []);
});
