// Back-pressure: refuse new mail with 452 4.3.1 (RFC 3463 "mail system full") while the spool's
// file system is nearly full or the queue is over its limit, instead of accepting mail that
// might not be written. A 4yz makes the client keep the message and retry (RFC 5321 §4.2.5).
// Checked at MAIL FROM and again at DATA; statfs is cached briefly since it is asked per message.
import { statfs } from 'node:fs/promises';

export interface SpoolLimits {
  minFreeBytes: number;
  minFreePercent: number;
  maxQueuedMessages: number;
}

export type Admission = { ok: true } | { ok: false; reason: string };

/** Pure part: the decision from measured numbers. */
export function decideAdmission(limits: SpoolLimits, m: { freeBytes: number; totalBytes: number; queued: number }): Admission {
  if (m.queued >= limits.maxQueuedMessages) return { ok: false, reason: `queue holds ${m.queued} messages (limit ${limits.maxQueuedMessages})` };
  if (m.freeBytes < limits.minFreeBytes) return { ok: false, reason: `spool file system has ${m.freeBytes} bytes free (minimum ${limits.minFreeBytes})` };
  const percent = m.totalBytes > 0 ? (m.freeBytes / m.totalBytes) * 100 : 100;
  if (percent < limits.minFreePercent) return { ok: false, reason: `spool file system ${percent.toFixed(2)}% free (minimum ${limits.minFreePercent}%)` };
  return { ok: true };
}

export class BackPressure {
  readonly #dir: string;
  readonly #limits: SpoolLimits;
  readonly #queued: () => number;
  readonly #cacheMs: number;
  #disk: { freeBytes: number; totalBytes: number; at: number } | null = null;

  constructor(spoolDir: string, limits: SpoolLimits, queued: () => number, cacheMs = 500) {
    this.#dir = spoolDir;
    this.#limits = limits;
    this.#queued = queued;
    this.#cacheMs = cacheMs;
  }

  async check(): Promise<Admission> {
    const now = Date.now();
    if (!this.#disk || now - this.#disk.at > this.#cacheMs) {
      // bavail, not bfree: blocks reserved for root do not help an unprivileged gateway.
      const s = await statfs(this.#dir);
      this.#disk = { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize, at: now };
    }
    return decideAdmission(this.#limits, { ...this.#disk, queued: this.#queued() });
  }
}
