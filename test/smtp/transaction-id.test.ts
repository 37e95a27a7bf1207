// Transaction ids are version 7 UUIDs whatever the Node release: the runtime's own where it has
// one, else the one built from pooled random bytes, which must have the same layout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newTransactionId, uuidV7 } from '../../src/smtp/transaction-id.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

for (const [name, make] of [['built here', () => uuidV7()], ['as used', newTransactionId]] as const) {
  test(`transaction ids (${name}): version 7 layout, the current time in front, unique`, () => {
    const before = Date.now();
    const ids = Array.from({ length: 5000 }, make);
    const after = Date.now();
    for (const id of ids) assert.match(id, V7);
    assert.equal(new Set(ids).size, ids.length, 'no id twice');
    for (const id of [ids[0], ids.at(-1)!]) {
      assert.ok(msOf(id) >= before && msOf(id) <= after, `${id} carries the time it was made`);
    }
  });
}

test('ids made in a later millisecond sort after earlier ones', () => {
  const early = uuidV7(1_764_460_800_000);
  const late = uuidV7(1_764_460_800_001);
  assert.ok(early < late);
  assert.equal(msOf(early), 1_764_460_800_000);
  assert.notEqual(uuidV7(5).slice(14), uuidV7(5).slice(14), 'the random part differs within one millisecond');
});
