// Password hashing for SMTP AUTH users: scrypt with a per-user salt, compared in constant time.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, params: ScryptOptions & { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolveKey, rejectKey) => {
    scrypt(password, salt, KEY_BYTES, { ...params, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? rejectKey(err) : resolveKey(key)));
  });
}

/** `scrypt$N$r$p$salt$hash` (base64), so parameters can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const expected = Buffer.from(parts[5], 'base64');
  const key = await derive(password, Buffer.from(parts[4], 'base64'), { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A small semaphore for password hashing. scrypt runs on libuv's thread pool (4 threads by
 * default), the same pool the spool's fdatasync and every fs call use: 32 clients guessing
 * passwords kept all 4 busy and a normal delivery went from 0.1 s to 4–8 s (issue 11). With
 * `concurrency` 1, at most one thread hashes; at most `queueMax` more wait, the rest are told
 * to come back (`busy`) instead of queueing without bound.
 */
export class HashGate {
  readonly #concurrency: number;
  readonly #queueMax: number;
  readonly #waiting: Array<() => void> = [];
  #running = 0;

  constructor(concurrency: number, queueMax: number) {
    this.#concurrency = Math.max(1, concurrency);
    this.#queueMax = Math.max(0, queueMax);
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; reason: 'busy' }> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#queueMax) return { ok: false, reason: 'busy' };
      await new Promise<void>((resolveTurn) => this.#waiting.push(resolveTurn));
    } else {
      this.#running += 1;
    }
    try {
      return { ok: true, value: await work() };
    } finally {
      // The slot passes straight to the next waiter, so `running` never exceeds the limit.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running -= 1;
    }
  }
}
