// What a node does with its trace while PostgreSQL is unreachable (issue 14, docs/cluster.md):
// mail keeps flowing under the last policy the node loaded, and each trace write or delivery
// update the store refuses for an outage is appended to a local file (fsync'd before the call
// returns) and written to PostgreSQL, in order, once it answers again. Replayed records are
// inserted once per transaction id, so a write that did commit before its acknowledgement was lost
// is not traced twice. Errors that are not outages (a bug, a constraint) propagate as before.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DeliveryUpdate, Store } from '../ports.ts';
import type { TraceRecord } from '../../domain/types.ts';

type OutboxEntry = { kind: 'trace'; record: TraceRecord } | { kind: 'delivery'; update: DeliveryUpdate };

export const OUTBOX_DRAIN_MS = 500;

/** Connection-level failures (server down, restarting, unreachable), not errors in the statement. */
export function isStoreOutage(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  // SQLSTATE class 08 (connection exception), 57P01-03 (shutdown, cannot connect now), 53300 (too
  // many connections), 57014 (statement_timeout: the server is too slow to count on).
  if (/^08/.test(code) || ['57P01', '57P02', '57P03', '53300', '57014'].includes(code)) return true;
  // The pool's own bounds (pool.ts): a server that stopped answering (a partition) rather than refusing.
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|timeout expired/i.test(String(e?.message ?? ''));
}

export interface TraceOutbox {
  /** Entries on local disk waiting for the store. */
  pending(): number;
  /** Writes what it can now; resolves when the outbox is empty or the store is still down. */
  drain(): Promise<void>;
  stop(): void;
}

/**
 * Wraps `store` so its trace writes survive an outage. `file` is on the node's own disk (the data
 * directory); a node restarted during an outage finds its file and drains it when the store returns.
 */
export async function withTraceOutbox(store: Store, file: string, logger: Logger): Promise<{ store: Store; outbox: TraceOutbox }> {
  const entries: OutboxEntry[] = [];
  try {
    for (const line of (await readFile(file, 'utf8')).split('\n')) if (line) entries.push(JSON.parse(line) as OutboxEntry);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // One file operation at a time: appends and the rewrite after a drain never interleave.
  let fileOps: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = fileOps.then(fn, fn);
    fileOps = next.catch(() => {});
    return next;
  };

  const buffer = (entry: OutboxEntry) => serialized(async () => {
    const handle = await open(file, 'a', 0o600);
    try {
      await handle.write(`${JSON.stringify(entry)}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    if (entries.length === 0) logger.error({ stage: 'trace', event: 'outbox-started', file }, 'store unreachable: trace records go to the local outbox until it returns');
    entries.push(entry);
  });

  const rewrite = () => serialized(async () => {
    if (entries.length === 0) { await unlink(file).catch(() => {}); return; }
    const tmp = `${file}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.write(entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  });

  const apply = async (entry: OutboxEntry) => {
    if (entry.kind === 'delivery') await store.updateDelivery(entry.update);
    else if (store.appendTraceOnce) await store.appendTraceOnce(entry.record);
    else await store.appendTrace(entry.record);
  };

  /** Straight to the store while nothing waits in the outbox (order), else behind what does. */
  const write = async (entry: OutboxEntry, direct: () => Promise<void>) => {
    if (entries.length === 0) {
      try {
        await direct();
        return;
      } catch (err) {
        if (!isStoreOutage(err)) throw err;
      }
    }
    await buffer(entry);
  };

  let draining: Promise<void> | null = null;
  const drainOnce = async () => {
    let done = 0;
    const total = entries.length;
    try {
      for (; done < total; done++) await apply(entries[done]);
    } catch (err) {
      if (!isStoreOutage(err)) {
        // A record the store refuses for itself would block the outbox forever: log it and move on.
        logger.error({ stage: 'trace', event: 'outbox-dropped', err: (err as Error).message }, 'outbox entry refused by the store; dropped');
        done++;
      }
    }
    if (done === 0) return;
    await serialized(async () => { entries.splice(0, done); });
    await rewrite();
    if (entries.length === 0) logger.warn({ stage: 'trace', event: 'outbox-drained', written: done }, 'store reachable again: outbox written');
  };
  const drain = () => {
    if (entries.length === 0) return Promise.resolve();
    draining ??= drainOnce().finally(() => { draining = null; });
    return draining;
  };
  const timer = setInterval(() => void drain().catch(() => {}), OUTBOX_DRAIN_MS);
  timer.unref();

  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'appendTrace') {
        return (record: TraceRecord, options?: Parameters<Store['appendTrace']>[1]) => write({ kind: 'trace', record }, () => target.appendTrace(record, options));
      }
      if (property === 'updateDelivery') {
        return (update: DeliveryUpdate, options?: Parameters<Store['updateDelivery']>[1]) => write({ kind: 'delivery', update }, () => target.updateDelivery(update, options));
      }
      if (property === 'close') return async () => { clearInterval(timer); await target.close(); };
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, outbox: { pending: () => entries.length, drain, stop: () => clearInterval(timer) } };
}
