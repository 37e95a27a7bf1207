// Keeps the compiled policy current: polls the store's version counter (a cheap indexed read) and
// recompiles on change, so a CLI change reaches a running gateway within one poll interval.
import type { Logger } from 'pino';
import { compilePolicy } from '../policy/compile.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { PolicyStore } from './ports.ts';

export class LivePolicy {
  readonly #store: PolicyStore;
  readonly #logger: Logger;
  #current: CompiledPolicy;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;

  private constructor(store: PolicyStore, logger: Logger, initial: CompiledPolicy) {
    this.#store = store;
    this.#logger = logger;
    this.#current = initial;
  }

  static async load(store: PolicyStore, logger: Logger): Promise<LivePolicy> {
    const { document, version } = await store.readPolicy();
    return new LivePolicy(store, logger, compilePolicy(document, version));
  }

  current(): CompiledPolicy {
    return this.#current;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
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
    if (this.#polling) return;
    this.#polling = true;
    try {
      const version = await this.#store.readPolicyVersion();
      if (version === this.#current.version) return;
      const { document, version: loaded } = await this.#store.readPolicy();
      this.#current = compilePolicy(document, loaded);
      this.#logger.info({ stage: 'policy', event: 'reloaded', version: loaded }, 'policy reloaded');
    } catch (err) {
      this.#logger.error({ stage: 'policy', event: 'reload-failed', err }, 'policy reload failed; keeping the previous version');
    } finally {
      this.#polling = false;
    }
  }
}
