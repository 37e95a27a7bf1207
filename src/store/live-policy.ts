// Keeps the compiled policy current: polls the store's version counter (a cheap indexed read) and
// recompiles on change, so a CLI change reaches a running gateway within one poll interval. Where
// the store can push (PostgreSQL LISTEN/NOTIFY, issue 14) a change wakes the node at once; the
// poll stays as the fallback, since NOTIFY is lost behind transaction-pooling PgBouncer and while
// the listening connection is down.
import type { Logger } from 'pino';
import { compilePolicy } from '../policy/compile.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { PolicyStore, PolicyWatch, Store } from './ports.ts';

export class LivePolicy {
  readonly #store: PolicyStore & Pick<Store, 'watchPolicy'>;
  readonly #logger: Logger;
  #current: CompiledPolicy;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  /** A wake-up arrived while a refresh was under way: that refresh may have read the old version. */
  #again = false;
  #watch: PolicyWatch | null = null;
  readonly #applied = new Set<(version: number) => void>();

  private constructor(store: PolicyStore & Pick<Store, 'watchPolicy'>, logger: Logger, initial: CompiledPolicy) {
    this.#store = store;
    this.#logger = logger;
    this.#current = initial;
  }

  static async load(store: PolicyStore & Pick<Store, 'watchPolicy'>, logger: Logger): Promise<LivePolicy> {
    const { document, version } = await store.readPolicy();
    return new LivePolicy(store, logger, compilePolicy(document, version));
  }

  current(): CompiledPolicy {
    return this.#current;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
    this.#watch = this.#store.watchPolicy?.(
      () => void this.refresh(),
      (err) => this.#logger.warn({ stage: 'policy', event: 'listen-failed', err: err.message }, 'policy change notifications interrupted; polling continues'),
    ) ?? null;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const watch = this.#watch;
    this.#watch = null;
    void watch?.close();
  }

  /** Called with the new version each time this node starts running one (the node heartbeat). */
  onApplied(listener: (version: number) => void): () => void {
    this.#applied.add(listener);
    return () => this.#applied.delete(listener);
  }

  /** For callers that just wrote a policy (tests, the API): resolves once this node runs it. */
  async waitForVersion(version: number): Promise<void> {
    while (this.#current.version < version) {
      await this.refresh();
      if (this.#current.version < version) await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** A failed reload keeps the last good policy: mail keeps flowing under known rules. */
  async refresh(): Promise<void> {
    if (this.#polling) { this.#again = true; return; }
    this.#polling = true;
    this.#again = false;
    try {
      const version = await this.#store.readPolicyVersion();
      if (version === this.#current.version) return;
      const { document, version: loaded } = await this.#store.readPolicy();
      this.#current = compilePolicy(document, loaded);
      this.#logger.info({ stage: 'policy', event: 'reloaded', version: loaded }, 'policy reloaded');
      for (const listener of this.#applied) listener(loaded);
    } catch (err) {
      this.#logger.error({ stage: 'policy', event: 'reload-failed', err }, 'policy reload failed; keeping the previous version');
    } finally {
      this.#polling = false;
      if (this.#again) void this.refresh();
    }
  }
}
