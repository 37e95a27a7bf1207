// Trace retention (bootstrap retention.traceDays): records older than that are deleted in the
// background, once at start and then hourly, by one node (worker 1 of `serve --workers`). The
// quarantine keeps its own retention (quarantine.retentionDays), purged by the quarantine service.
import type { Logger } from 'pino';
import type { Store } from '../store/ports.ts';

const DAY_MS = 86_400_000;

export interface RetentionTask {
  /** One purge now; the number of records removed. */
  runOnce(): Promise<number>;
  stop(): void;
}

export function startTracePurge(store: Store, traceDays: number, logger: Logger, options: { intervalMs?: number; now?: () => number } = {}): RetentionTask {
  const now = options.now ?? Date.now;
  let running: Promise<number> | null = null;
  const runOnce = (): Promise<number> => {
    if (!store.purgeTraceBefore) return Promise.resolve(0);
    running ??= (async () => {
      const before = new Date(now() - traceDays * DAY_MS).toISOString();
      try {
        const removed = await store.purgeTraceBefore!(before);
        if (removed > 0) logger.info({ stage: 'retention', event: 'trace-purged', removed, before }, 'old trace records removed');
        return removed;
      } catch (err) {
        logger.warn({ stage: 'retention', event: 'trace-purge-failed', err }, 'trace purge failed; retried at the next interval');
        return 0;
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const first = setTimeout(() => void runOnce(), 1000);
  const timer = setInterval(() => void runOnce(), options.intervalMs ?? 3_600_000);
  first.unref();
  timer.unref();
  return { runOnce, stop: () => { clearTimeout(first); clearInterval(timer); } };
}
