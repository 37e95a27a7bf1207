// One sign-in at a time per client and per user name (issue 13, login throttling). The throttle
// (smtp/auth-throttle.ts) counts a failure only once its password check is done, so attempts sent
// in parallel would all pass its admission check before the first failure is counted: a burst of
// 30 got 17 guesses checked where the lockout allows 5. Waiting for the previous attempt of the
// same client or name makes each admission see every earlier failure.

/** Attempts waiting for one key beyond this are refused at once (the hash queue is as short). */
export const MAX_WAITING_SIGN_INS = 16;

interface Line {
  tail: Promise<void>;
  waiting: number;
}

export class SignInTurns {
  readonly #lines = new Map<string, Line>();

  /** Runs `work` after every earlier attempt on any of `keys` has ended; 'busy' when a line is full. */
  async inTurn<T>(keys: readonly string[], work: () => Promise<T>): Promise<T | 'busy'> {
    if (keys.some((k) => (this.#lines.get(k)?.waiting ?? 0) >= MAX_WAITING_SIGN_INS)) return 'busy';
    const before = Promise.allSettled(keys.map((k) => this.#lines.get(k)?.tail));
    const run = before.then(work);
    const ended = run.then(() => undefined, () => undefined);
    for (const k of keys) this.#lines.set(k, { tail: ended, waiting: (this.#lines.get(k)?.waiting ?? 0) + 1 });
    void ended.then(() => {
      for (const k of keys) {
        const line = this.#lines.get(k);
        if (!line) continue;
        // Lines end in order, so the last one out finds itself the tail and removes the entry.
        if (line.tail === ended) this.#lines.delete(k);
        else line.waiting -= 1;
      }
    });
    return run;
  }
}
