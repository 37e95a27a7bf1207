// WriteBatch: rows in one turn share a commit; background rows wait a few ms for company, but a
// write somebody waits on is not held back by them, and call order is kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

// A child queues background rows with a window far longer than its life, then ends by a crash or
// by process.exit: the 'exit' hook commits them, so the parent finds them in the file.
const EXIT_CHILD = `
import { DatabaseSync } from 'node:sqlite';
import { WriteBatch } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/store/sqlite/write-batch.ts'))};
const [file, how] = process.argv.slice(-2);
const db = new DatabaseSync(file);
db.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)');
const stmt = db.prepare('INSERT INTO t (v) VALUES (?)');
const batch = new WriteBatch(db, 600_000);
for (const v of ['a', 'b', 'c']) void batch.run(() => { stmt.run(v); }, { background: true });
if (how === 'crash') setImmediate(() => { throw new Error('crash with rows waiting'); });
else setImmediate(() => process.exit(3));
`;

for (const how of ['crash', 'exit'] as const) {
  test(`background rows still waiting for their window are committed when the process ends by ${how}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mxward-batch-exit-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'trace.db');
    const child = spawn(process.execPath, ['--input-type=module', '-e', EXIT_CHILD, file, how], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    assert.equal(code, how === 'crash' ? 1 : 3, stderr);
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      assert.deepEqual((db.prepare('SELECT v FROM t ORDER BY seq').all() as Array<{ v: string }>).map((r) => r.v), ['a', 'b', 'c']);
    } finally {
      db.close();
    }
  });
}
