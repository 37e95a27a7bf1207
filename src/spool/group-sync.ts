// Group commit for a directory's fsync. Messages that reach the last step of their commit while
// an fsync of queue/ is already running wait for the next one, which then covers all of them: one
// fsync for the messages that arrived together, instead of one each. A caller is answered only
// after an fsync that *started after* its rename has finished, so "250 only once the directory
// entry is on disk" (spool.ts, SPEC §2.6) holds for every message exactly as before.
export class GroupSync {
  readonly #dir: string;
  readonly #syncDir: (dir: string) => Promise<void>;
  #inFlight: Promise<void> | null = null;
  #queued: Promise<void> | null = null;

  constructor(dir: string, syncDir: (dir: string) => Promise<void>) {
    this.#dir = dir;
    this.#syncDir = syncDir;
  }

  sync(): Promise<void> {
    if (this.#queued) return this.#queued; // the next fsync has not started yet: it will cover us
    if (!this.#inFlight) return this.#launch();
    // The running fsync may have started before our rename: wait for it, then run the next one.
    const settled = this.#inFlight.then(() => undefined, () => undefined);
    this.#queued = settled.then(() => {
      this.#queued = null;
      return this.#launch();
    });
    return this.#queued;
  }

  #launch(): Promise<void> {
    const run = this.#syncDir(this.#dir).finally(() => {
      if (this.#inFlight === run) this.#inFlight = null;
    });
    this.#inFlight = run;
    return run;
  }
}
