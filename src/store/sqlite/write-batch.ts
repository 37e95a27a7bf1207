// Trace writes that arrive in the same turn of the event loop share one SQLite transaction: one
// WAL append and commit for the lot instead of one per row. Under load the per-row commit was the
// largest single cost of a refused transaction (docs/performance.md). Each caller's promise
// settles only after its row is committed, so `await appendTrace()` keeps its meaning, and rows
// are written in call order (a delivery update never overtakes the insert it updates).
//
// Writes nobody waits on (`background`: the trace of a session that has closed, delivery updates)
// may wait up to BACKGROUND_WINDOW_MS for company. A commit writes about ten pages whatever it
// holds (the database header, sqlite_sequence, the table's and each index's right edge: seven
// b-trees), so its cost is mostly per commit: ~100 us of CPU, against ~50 us per row. At a
// thousand refusals a second a 5 ms window gave commits of about five rows; 20 ms gives about
// twenty. A write somebody waits on still flushes at the next turn and takes any background rows
// queued before it along.
//
// Rows still waiting when the process exits (an uncaught exception, process.exit) are committed
// by an 'exit' hook, so only SIGKILL or a power cut can lose them: at most BACKGROUND_WINDOW_MS of
// closed sessions' rows. (With synchronous = NORMAL a power cut can lose the last commits anyway,
// up to the next checkpoint.)
import type { DatabaseSync } from 'node:sqlite';

/** How long a background write may wait for others before it is committed. */
export const BACKGROUND_WINDOW_MS = 20;
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
        if (!this.#timer) {
          this.#timer = setTimeout(() => this.flush(), this.#backgroundWindowMs);
          waitingAtExit.add(this);
          watchExit();
        }
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
      waitingAtExit.delete(this);
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

/** Batches holding background rows for their window; committed if the process exits first. */
const waitingAtExit = new Set<WriteBatch>();
let exitWatched = false;

function watchExit(): void {
  if (exitWatched) return;
  exitWatched = true;
  // 'exit' handlers run synchronously, and so does node:sqlite: the commit completes before exit.
  process.on('exit', () => {
    for (const batch of waitingAtExit) batch.flush();
  });
}

function settle(w: PendingWrite, fn: () => void): void {
  try {
    fn();
    w.resolve();
  } catch (err) {
    w.reject(err);
  }
}
