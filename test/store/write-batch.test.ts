// WriteBatch: rows in one turn share a commit; background rows wait a few ms for company, but a
// write somebody waits on is not held back by them, and call order is kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { WriteBatch } from '../../src/store/sqlite/write-batch.ts';

function fresh(backgroundWindowMs?: number): { db: DatabaseSync; batch: WriteBatch; insert: (v: string) => () => void; rows: () => string[]; commits: () => number } {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)');
  const stmt = db.prepare('INSERT INTO t (v) VALUES (?)');
  let commits = 0;
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => { if (sql === 'COMMIT') commits++; exec(sql); };
  return {
    db, batch: new WriteBatch(db, backgroundWindowMs), insert: (v) => () => { stmt.run(v); },
    rows: () => (db.prepare('SELECT v FROM t ORDER BY seq').all() as Array<{ v: string }>).map((r) => r.v),
    commits: () => commits,
  };
}

test('background writes wait for company and are committed together, after which their promises settle', async () => {
  const f = fresh(50);
  const done = [f.batch.run(f.insert('a'), { background: true }), f.batch.run(f.insert('b'), { background: true })];
  await Promise.all(done);
  assert.deepEqual(f.rows(), ['a', 'b']);
  assert.equal(f.commits(), 1);
});

test('background writes are not written at the next turn; a write somebody waits on takes them along, in order', async () => {
  // A window far longer than the test: if the foreground write were held for it, the test would
  // time out; if background rows were written at once, the first check would fail.
  const f = fresh(600_000);
  const bg = f.batch.run(f.insert('bg'), { background: true });
  await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(f.rows(), [], 'not yet written after one turn');
  await f.batch.run(f.insert('fg'));
  await bg;
  assert.deepEqual(f.rows(), ['bg', 'fg']);
  assert.equal(f.commits(), 1);
});

test('flush() (store close) writes pending background rows at once', async () => {
  const f = fresh();
  const bg = f.batch.run(f.insert('x'), { background: true });
  f.batch.flush();
  await bg;
  assert.deepEqual(f.rows(), ['x']);
});
