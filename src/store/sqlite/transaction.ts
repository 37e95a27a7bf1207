// BEGIN IMMEDIATE takes the write lock up front, so a read-then-write inside fn cannot be
// overtaken by another writer (another process: the CLI next to a running gateway).
import type { DatabaseSync } from 'node:sqlite';

export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
