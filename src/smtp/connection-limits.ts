// Global and per-IP connection limits (SPEC §2.1): over either, the client gets 421 4.3.2.
import { parseIp } from '../policy/compile.ts';

export class ConnectionLimiter {
  readonly #maxTotal: number;
  readonly #maxPerIp: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerIp: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerIp = maxPerIp;
  }

  /** IPv4-mapped IPv6 and plain IPv4 count as the same client. */
  static key(ip: string): string {
    return parseIp(ip)?.toString() ?? ip;
  }

  tryAcquire(ip: string): boolean {
    const key = ConnectionLimiter.key(ip);
    const current = this.#perIp.get(key) ?? 0;
    if (this.#total >= this.#maxTotal || current >= this.#maxPerIp) return false;
    this.#total += 1;
    this.#perIp.set(key, current + 1);
    return true;
  }

  release(ip: string): void {
    const key = ConnectionLimiter.key(ip);
    const current = this.#perIp.get(key) ?? 0;
    if (current <= 1) this.#perIp.delete(key);
    else this.#perIp.set(key, current - 1);
    this.#total = Math.max(0, this.#total - 1);
  }

  get total(): number {
    return this.#total;
  }
}
