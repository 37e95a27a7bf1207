// Global and per-client connection limits (SPEC §2.1): over either, the client gets 421 4.3.2.
// A client is an IPv4 address or an IPv6 prefix (limits.ipv6PrefixLength, /64 by default):
// whoever holds one IPv6 address usually holds its whole /64 (RFC 4291 §2.5.4), so counting
// each address apart let one /64 take every slot (issue 11).
import ipaddr from 'ipaddr.js';
import { parseIp } from '../policy/compile.ts';

export const DEFAULT_IPV6_PREFIX_LENGTH = 64;

/**
 * The key connections are counted under. IPv4-mapped IPv6 and plain IPv4 count as the same
 * client; an IPv6 address counts as its prefix (`2001:db8:1:2::/64`).
 */
export function clientKey(ip: string, ipv6PrefixLength = DEFAULT_IPV6_PREFIX_LENGTH): string {
  const parsed = parseIp(ip);
  if (!parsed) return ip;
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const bytes = parsed.toByteArray();
  for (let bit = ipv6PrefixLength; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  return `${(ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String()}/${ipv6PrefixLength}`;
}

export class ConnectionLimiter {
  readonly #maxTotal: number;
  readonly #maxPerIp: number;
  readonly #ipv6PrefixLength: number;
  readonly #perIp = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerIp: number, ipv6PrefixLength = DEFAULT_IPV6_PREFIX_LENGTH) {
    this.#maxTotal = maxTotal;
    this.#maxPerIp = maxPerIp;
    this.#ipv6PrefixLength = ipv6PrefixLength;
  }

  /** The counting key for an address under this limiter's IPv6 prefix. */
  key(ip: string): string {
    return clientKey(ip, this.#ipv6PrefixLength);
  }

  tryAcquire(ip: string): boolean {
    const key = this.key(ip);
    const current = this.#perIp.get(key) ?? 0;
    if (this.#total >= this.#maxTotal || current >= this.#maxPerIp) return false;
    this.#total += 1;
    this.#perIp.set(key, current + 1);
    return true;
  }

  release(ip: string): void {
    const key = this.key(ip);
    const current = this.#perIp.get(key) ?? 0;
    if (current <= 1) this.#perIp.delete(key);
    else this.#perIp.set(key, current - 1);
    this.#total = Math.max(0, this.#total - 1);
  }

  get total(): number {
    return this.#total;
  }
}
