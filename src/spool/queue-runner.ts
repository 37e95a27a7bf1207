// Moves committed spool entries to the delivery target. Per-recipient progress is written back to
// the envelope, so a message half delivered before a crash is retried only for the rest.
//
// The `mxward queue` CLI runs in another process and only touches files: it rewrites an
// envelope's nextAttemptAt (retry, flush) or removes an entry (delete), then touches spool/wakeup.
// The runner polls that file's mtime and, when it moved, rescans the queue for entries that are
// due now. Polling one stat() a second is cheap and needs no socket between the two processes.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Spool } from './spool.ts';
import type { SpoolEnvelope, SpoolRecipient } from './envelope.ts';
import type { DeliveryTarget } from './delivery.ts';
import type { DeliveryStatus } from '../domain/types.ts';

export interface QueueRunnerOptions {
  concurrency: number;
  /** Delay before retry N (1-based); the last value repeats. */
  retryDelaysMs: number[];
  /** Give up on a recipient after this long in the queue. */
  maxQueueLifetimeMs: number;
  /** How often to look for CLI requests (spool/wakeup); 0 = never. */
  rescanMs?: number;
}

export interface AttemptReport {
  queueId: string;
  status: DeliveryStatus;
  /** `rcpt: reply` per recipient. */
  detail: string;
  attempts: number;
  lastReply: string | null;
}

export interface QueueEvents {
  onFinished(report: AttemptReport): void;
  onError(queueId: string, err: unknown): void;
  /**
   * Recipients that just failed for good. Called before their state is written, so a crash in
   * between repeats the bounce rather than losing it. Returns the bounce's queue id, if any.
   */
  onPermanentFailure?(envelope: SpoolEnvelope, failed: SpoolRecipient[]): Promise<string | null>;
}

export function openSpooledMessage(spool: Spool, envelope: SpoolEnvelope): Readable {
  const held = spool.freshMessage(envelope.queueId);
  if (held) return Readable.from([Buffer.from(envelope.prependHeaders, 'utf8'), held]);
  const file = createReadStream(spool.messagePath(envelope.queueId));
  return Readable.from((async function* () {
    yield Buffer.from(envelope.prependHeaders, 'utf8');
    yield* file;
  })());
}

export class QueueRunner {
  readonly #spool: Spool;
  readonly #target: DeliveryTarget;
  readonly #events: QueueEvents;
  readonly #options: QueueRunnerOptions;
  readonly #ready: string[] = [];
  readonly #readySet = new Set<string>();
  readonly #inFlight = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Every entry this process knows to be in the queue: its size for back-pressure. */
  readonly #known = new Set<string>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  #rescanTimer: NodeJS.Timeout | null = null;
  #wakeupMtimeMs = 0;

  constructor(spool: Spool, target: DeliveryTarget, events: QueueEvents, options: QueueRunnerOptions) {
    this.#spool = spool;
    this.#target = target;
    this.#events = events;
    this.#options = options;
  }

  get size(): number {
    return this.#known.size;
  }

  enqueue(queueId: string): void {
    if (this.#stopped) return;
    this.#known.add(queueId);
    if (this.#inFlight.has(queueId) || this.#readySet.has(queueId)) return;
    const timer = this.#timers.get(queueId);
    if (timer) { clearTimeout(timer); this.#timers.delete(queueId); }
    this.#ready.push(queueId);
    this.#readySet.add(queueId);
    this.#pump();
  }

  /** Known entries waiting for a retry timer, with the time they are due. */
  scheduledCount(): number {
    return this.#timers.size;
  }

  /** Resolves when nothing is ready or in flight (scheduled retries do not count). */
  whenIdle(): Promise<void> {
    if (this.#ready.length === 0 && this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolveIdle) => this.#idleWaiters.push(resolveIdle));
  }

  /** Starts watching spool/wakeup for requests from `mxward queue retry|flush`. */
  async startRescan(): Promise<void> {
    const every = this.#options.rescanMs ?? 0;
    if (every <= 0) return;
    this.#wakeupMtimeMs = await this.#wakeupMtime();
    const tick = async () => {
      const mtime = await this.#wakeupMtime();
      if (mtime !== this.#wakeupMtimeMs) {
        this.#wakeupMtimeMs = mtime;
        await this.rescan();
      }
    };
    this.#rescanTimer = setInterval(() => {
      tick().catch((err) => this.#events.onError('-', err));
    }, every);
    this.#rescanTimer.unref();
  }

  /** Enqueues every entry on disk that is due now and not already being handled. */
  async rescan(): Promise<void> {
    const now = Date.now();
    for (const id of await this.#spool.listQueueIds()) {
      if (!this.#spool.owns(id)) continue; // a sibling worker's entry (serve --workers)
      if (this.#inFlight.has(id) || this.#readySet.has(id)) continue;
      const envelope = await this.#spool.readEnvelope(id);
      if (envelope && Date.parse(envelope.nextAttemptAt) <= now) this.enqueue(id);
      else if (envelope) this.#known.add(id);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#rescanTimer) clearInterval(this.#rescanTimer);
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#ready.length = 0;
    this.#readySet.clear();
    await this.whenIdle();
    await this.#target.close?.();
  }

  async #wakeupMtime(): Promise<number> {
    try {
      return (await stat(this.#spool.wakeupPath)).mtimeMs;
    } catch {
      return 0;
    }
  }

  #pump(): void {
    while (!this.#stopped && this.#inFlight.size < this.#options.concurrency && this.#ready.length > 0) {
      const id = this.#ready.shift()!;
      this.#readySet.delete(id);
      this.#inFlight.add(id);
      this.#attempt(id)
        .catch((err) => this.#events.onError(id, err))
        .finally(() => {
          this.#inFlight.delete(id);
          this.#pump();
          if (this.#ready.length === 0 && this.#inFlight.size === 0) {
            for (const w of this.#idleWaiters.splice(0)) w();
          }
        });
    }
  }

  async #attempt(queueId: string): Promise<void> {
    const envelope = await this.#spool.readEnvelope(queueId);
    if (!envelope) { this.#known.delete(queueId); return; } // deleted by an operator meanwhile
    const pending = envelope.recipients.filter((r) => r.state === 'pending');
    const newlyFailed: SpoolRecipient[] = [];
    if (pending.length > 0) {
      const outcomes = await this.#target.deliver({
        queueId, mailFrom: envelope.mailFrom, recipients: pending.map((r) => r.address),
        openMessage: () => openSpooledMessage(this.#spool, envelope),
      });
      const expired = Date.now() - Date.parse(envelope.receivedAt) > this.#options.maxQueueLifetimeMs;
      pending.forEach((r, i) => {
        const o = outcomes[i];
        r.attempts += 1;
        r.lastReply = o.reply;
        if (o.status === 'delivered') r.state = 'delivered';
        else if (o.status === 'failed' || expired) {
          r.state = 'failed';
          if (o.status !== 'failed') r.lastReply = `${o.reply} (gave up: queue lifetime exceeded)`;
          newlyFailed.push(r);
        }
      });
    }
    const stillPending = envelope.recipients.filter((r) => r.state === 'pending');
    // `mxward queue delete` during the attempt: the entry is gone, do not write it back (nor
    // bounce). When nothing is left to write, remove() below finds it gone just as well.
    if ((newlyFailed.length > 0 || stillPending.length > 0) && !(await this.#spool.has(queueId))) { this.#known.delete(queueId); return; }
    if (newlyFailed.length > 0 && envelope.mailFrom !== null && this.#events.onPermanentFailure) {
      const bounceId = await this.#events.onPermanentFailure(envelope, newlyFailed);
      if (bounceId) this.enqueue(bounceId);
    }
    const attempts = Math.max(0, ...envelope.recipients.map((r) => r.attempts));
    const lastReply = pending.at(-1)?.lastReply ?? null;
    if (stillPending.length === 0) {
      await this.#spool.remove(queueId);
      this.#known.delete(queueId);
      const failed = envelope.recipients.filter((r) => r.state === 'failed');
      const status: DeliveryStatus = failed.length === 0 ? 'delivered' : 'failed';
      this.#events.onFinished({ queueId, status, attempts, lastReply, detail: summarize(envelope.recipients) });
      return;
    }
    const delays = this.#options.retryDelaysMs;
    const retries = Math.max(...stillPending.map((r) => r.attempts));
    const base = delays[Math.min(retries, delays.length) - 1] ?? delays[delays.length - 1];
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.4)); // jitter spreads retries of one outage
    envelope.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
    await this.#spool.updateEnvelope(envelope);
    this.#events.onFinished({ queueId, status: 'deferred', attempts, lastReply, detail: summarize(stillPending) });
    if (!this.#stopped) {
      const timer = setTimeout(() => {
        this.#timers.delete(queueId);
        this.enqueue(queueId);
      }, delayMs);
      timer.unref();
      this.#timers.set(queueId, timer);
    }
  }
}

function summarize(recipients: SpoolRecipient[]): string {
  return recipients.map((r) => `${r.address}: ${r.lastReply ?? ''}`).join('; ');
}
