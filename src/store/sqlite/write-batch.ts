// Trace writes that arrive in the same turn of the event loop share one SQLite transaction: one
// WAL append and commit for the lot instead of one per row. Under load the per-row commit was the
// largest single cost of a refused transaction (docs/performance.md). Each caller's promise
// settles only after its row is committed, so `await appendTrace()` keeps its meaning, and rows
// are written in call order (a delivery update never overtakes the insert it updates).
//
// Writes nobody waits on (`background`: the trace of a session that has closed, delivery updates)
// may wait up to BACKGROUND_WINDOW_MS for company: at one refused transaction per event-loop turn
// the batch above was nearly always one row, i.e. one commit per row (~40 us of CPU each against
// ~12 us per row in batches of 16). A write somebody waits on still flushes at the next turn and
// takes any background rows queued before it along.
import type { DatabaseSync } from 'node:sqlite';

/** How long a background write may wait for others before it is committed. */
export const BACKGROUND_WINDOW_MS = 5;
/** Background rows that are committed at once without waiting for the window. */
const BACKGROUND_MAX_ROWS = 128;

interface PendingWrite {
  run: () => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class WriteBatch {
  readonly #db: DatabaseSync;
  #pending: PendingWrite[] = [];
  #scheduled = false;
  #timer: NodeJS.Timeout | null = null;
  readonly #backgroundWindowMs: number;

  /** backgroundWindowMs is a parameter so tests can make the window long and the outcome certain. */
  constructor(db: DatabaseSync, backgroundWindowMs = BACKGROUND_WINDOW_MS) {
    this.#db = db;
    this.#backgroundWindowMs = backgroundWindowMs;
  }

  run(write: () => void, options?: { background?: boolean }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ run: write, resolve, reject });
      if (this.#scheduled) return;
      if (options?.background && this.#pending.length < BACKGROUND_MAX_ROWS) {
        this.#timer ??= setTimeout(() => this.flush(), this.#backgroundWindowMs);
        return;
      }
      this.#scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** Writes everything pending now; also called before the database is closed. */
  flush(): void {
    this.#scheduled = false;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const writes = this.#pending;
    this.#pending = [];
    if (writes.length === 0) return;
    if (writes.length === 1 || !this.#begin()) {
      for (const w of writes) settle(w, () => w.run());
      return;
    }
    // A failing statement is rolled back on its own (SQLite statement journal); the others stay.
    const errors = writes.map((w) => {
      try {
        w.run();
        return null;
      } catch (err) {
        return { err };
      }
    });
    try {
      this.#db.exec('COMMIT');
    } catch (err) {
      try { this.#db.exec('ROLLBACK'); } catch { /* already rolled back */ }
      for (const w of writes) w.reject(err);
      return;
    }
    writes.forEach((w, i) => {
      const failed = errors[i];
      if (failed) w.reject(failed.err);
      else w.resolve();
    });
  }

  #begin(): boolean {
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      return true;
    } catch {
      return false; // e.g. busy past busy_timeout: fall back to one autocommit per row
    }
  }
}

function settle(w: PendingWrite, fn: () => void): void {
  try {
    fn();
    w.resolve();
  } catch (err) {
    w.reject(err);
  }
}
