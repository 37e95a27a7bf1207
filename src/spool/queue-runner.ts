// Moves committed spool entries to the delivery target. Per-recipient progress is written back to
// the envelope, so a message half delivered before a crash is retried only for the rest.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Spool } from './spool.ts';
import type { SpoolEnvelope } from './envelope.ts';
import type { DeliveryTarget } from './delivery.ts';
import type { DeliveryStatus } from '../domain/types.ts';

export interface QueueRunnerOptions {
  concurrency: number;
  /** Delay before retry N (1-based); the last value repeats. */
  retryDelaysMs: number[];
  /** Give up on a recipient after this long in the queue. */
  maxQueueLifetimeMs: number;
}

export interface QueueEvents {
  onFinished(queueId: string, status: DeliveryStatus, detail: string): void;
  onError(queueId: string, err: unknown): void;
}

export function openSpooledMessage(spool: Spool, envelope: SpoolEnvelope): Readable {
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
  readonly #inFlight = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(spool: Spool, target: DeliveryTarget, events: QueueEvents, options: QueueRunnerOptions) {
    this.#spool = spool;
    this.#target = target;
    this.#events = events;
    this.#options = options;
  }

  enqueue(queueId: string): void {
    if (this.#stopped || this.#inFlight.has(queueId) || this.#ready.includes(queueId)) return;
    this.#ready.push(queueId);
    this.#pump();
  }

  /** Resolves when nothing is ready or in flight (scheduled retries do not count). */
  whenIdle(): Promise<void> {
    if (this.#ready.length === 0 && this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolveIdle) => this.#idleWaiters.push(resolveIdle));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#ready.length = 0;
    await this.whenIdle();
    await this.#target.close?.();
  }

  #pump(): void {
    while (!this.#stopped && this.#inFlight.size < this.#options.concurrency && this.#ready.length > 0) {
      const id = this.#ready.shift()!;
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
    if (!envelope) return; // deleted by an operator meanwhile
    const pending = envelope.recipients.filter((r) => r.state === 'pending');
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
        else if (o.status === 'failed' || expired) r.state = 'failed';
      });
    }
    const stillPending = envelope.recipients.filter((r) => r.state === 'pending');
    if (stillPending.length === 0) {
      await this.#spool.remove(queueId);
      const failed = envelope.recipients.filter((r) => r.state === 'failed');
      const status: DeliveryStatus = failed.length === 0 ? 'delivered' : 'failed';
      this.#events.onFinished(queueId, status, envelope.recipients.map((r) => `${r.address}: ${r.lastReply ?? ''}`).join('; '));
      return;
    }
    const attempts = Math.max(...stillPending.map((r) => r.attempts));
    const delays = this.#options.retryDelaysMs;
    const base = delays[Math.min(attempts, delays.length) - 1] ?? delays[delays.length - 1];
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.4)); // jitter spreads retries of one outage
    envelope.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
    await this.#spool.updateEnvelope(envelope);
    this.#events.onFinished(queueId, 'deferred', stillPending.map((r) => `${r.address}: ${r.lastReply ?? ''}`).join('; '));
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
