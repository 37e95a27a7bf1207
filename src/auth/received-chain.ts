// Enhanced filtering (issue 3): when mxward sits behind another filter, the connecting IP is that
// filter's, and SPF against it means nothing. Configured trusted hops are skipped in the Received
// chain (newest first, RFC 5321 §4.4) to find the first untrusted client: the real source.
import ipaddr from 'ipaddr.js';
import type { HeaderField } from '../smtp/header-section.ts';
import { fieldValue } from '../smtp/header-section.ts';
import type { IpRange } from '../policy/compile.ts';
import { ipInRanges, parseIp } from '../policy/compile.ts';

export interface ReceivedFrom {
  helo: string | null;
  ip: string | null;
}

/**
 * The `from` clause of one Received field: `from HELO (PTR [IP])`. Only the TCP-info comment or
 * an address-literal HELO gives the IP; a name the client claimed is never taken as an address.
 */
export function parseReceivedFrom(value: string): ReceivedFrom | null {
  const m = /^\s*from\s+(\S+)(?:\s*\(([^)]*)\))?/i.exec(value);
  if (!m) return null;
  const helo = m[1];
  const literal = /^\[(?:IPv6:)?([0-9a-fA-F:.]+)\]$/i.exec(helo);
  const tcpInfo = m[2] ? /\[(?:IPv6:)?([0-9a-fA-F:.]+)\]/i.exec(m[2]) : null;
  const ip = tcpInfo?.[1] ?? literal?.[1] ?? null;
  return { helo: literal ? null : helo, ip: ip && parseIp(ip) ? parseIp(ip)!.toString() : null };
}

export function compileHops(cidrs: string[]): IpRange[] {
  return cidrs.map((text) => {
    if (text.includes('/')) return ipaddr.parseCIDR(text) as IpRange;
    const addr = ipaddr.process(text);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128] as IpRange;
  });
}

export interface MessageSource {
  ip: string;
  helo: string | null;
  /** Trusted hops that were skipped, newest first; empty when the client itself is the source. */
  skipped: string[];
}

/** The client to authenticate: the connecting one, or the first untrusted one behind trusted hops. */
export function findMessageSource(remoteIp: string, helo: string | null, fields: HeaderField[], hops: readonly IpRange[]): MessageSource {
  const client = parseIp(remoteIp);
  if (!client || hops.length === 0 || !ipInRanges(client, hops)) return { ip: remoteIp, helo, skipped: [] };
  const skipped = [client.toString()];
  for (const field of fields) {
    if (field.name !== 'received') continue;
    const from = parseReceivedFrom(fieldValue(field));
    if (!from?.ip) break; // a Received we cannot read ends the walk: do not guess past it
    const addr = parseIp(from.ip)!;
    if (!ipInRanges(addr, hops)) return { ip: addr.toString(), helo: from.helo, skipped };
    skipped.push(addr.toString());
  }
  // Every hop trusted (or nothing readable): authenticate the connecting client after all.
  return { ip: remoteIp, helo, skipped: [] };
}
