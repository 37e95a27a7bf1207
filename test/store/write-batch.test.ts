// WriteBatch: rows in one turn share a commit; background rows wait a few ms for company, but a
// write somebody waits on is not held back by them, and call order is kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { WriteBatch } from '../../src/store/sqlite/write-batch.ts';

function fresh(): { db: DatabaseSync; batch: WriteBatch; insert: (v: string) => () => void; rows: () => string[]; commits: () => number } {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)');
  const stmt = db.prepare('INSERT INTO t (v) VALUES (?)');
  let commits = 0;
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => { if (sql === 'COMMIT') commits++; exec(sql); };
  return {
    db, batch: new WriteBatch(db), insert: (v) => () => { stmt.run(v); },
    rows: () => (db.prepare('SELECT v FROM t ORDER BY seq').all() as Array<{ v: string }>).map((r) => r.v),
    commits: () => commits,
  };
}

test('background writes wait for the window and are committed together, after which their promises settle', async () => {
  const f = fresh();
  const started = Date.now();
  const done = [f.batch.run(f.insert('a'), { background: true }), f.batch.run(f.insert('b'), { background: true })];
  await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(f.rows(), [], 'not yet written after one turn');
  await Promise.all(done);
  assert.ok(Date.now() - started >= 3);
  assert.deepEqual(f.rows(), ['a', 'b']);
  assert.equal(f.commits(), 1);
});

test('a write somebody waits on flushes at the next turn and takes earlier background rows along, in order', async () => {
  const f = fresh();
  const bg = f.batch.run(f.insert('bg'), { background: true });
  await new Promise<void>((r) => setImmediate(r));
  const started = Date.now();
  await f.batch.run(f.insert('fg'));
  assert.ok(Date.now() - started < 5, 'not held for the background window');
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
