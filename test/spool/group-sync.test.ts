import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupSync } from '../../src/spool/group-sync.ts';

/** A fake directory fsync that finishes when the test says so, and records when each began. */
function controlledSync() {
  const runs: Array<{ finish: (err?: Error) => void }> = [];
  const syncDir = () => new Promise<void>((resolve, reject) => {
    runs.push({ finish: (err) => (err ? reject(err) : resolve()) });
  });
  return { runs, syncDir };
}

const tick = () => new Promise((r) => setImmediate(r));

test('a caller arriving during a running fsync is answered only after a later one', async () => {
  const { runs, syncDir } = controlledSync();
  const g = new GroupSync('/q', syncDir);
  let firstDone = false;
  let secondDone = false;
  g.sync().then(() => { firstDone = true; });
  g.sync().then(() => { secondDone = true; });
  assert.equal(runs.length, 1);
  runs[0].finish();
  await tick();
  assert.equal(firstDone, true);
  assert.equal(secondDone, false, 'the first fsync may have begun before the second rename');
  assert.equal(runs.length, 2);
  runs[1].finish();
  await tick();
  assert.equal(secondDone, true);
});

test('everyone who arrives during one fsync shares the next one', async () => {
  const { runs, syncDir } = controlledSync();
  const g = new GroupSync('/q', syncDir);
  const first = g.sync();
  const waiting = Array.from({ length: 50 }, () => g.sync());
  runs[0].finish();
  await first;
  await tick();
  assert.equal(runs.length, 2);
  runs[1].finish();
  await Promise.all(waiting);
  assert.equal(runs.length, 2, '51 commits, 2 fsyncs');
});

test('a failed fsync fails its callers and the next group still gets its own', async () => {
  const { runs, syncDir } = controlledSync();
  const g = new GroupSync('/q', syncDir);
  const first = g.sync();
  const second = g.sync();
  runs[0].finish(new Error('EIO'));
  await assert.rejects(first, /EIO/);
  await tick();
  assert.equal(runs.length, 2);
  runs[1].finish();
  await second;
});
