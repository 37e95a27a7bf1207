// Domain and address normalisation (SPEC §1 "accepted domain"): case-insensitive, trailing dot
// ignored, IDNs compared in A-label (punycode) form.
import { domainToASCII } from 'node:url';

/** Lower-case A-label form without a trailing dot; null when the input is not a usable domain. */
export function normalizeDomain(input: string): string | null {
  let d = input.trim();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.startsWith('[')) return null; // address literal: no domain to compare
  if (!d || d.length > 253) return null;
  const ascii = domainToASCII(d.toLowerCase());
  if (!ascii) return null;
  return ascii;
}

export interface ParsedAddress {
  localPart: string;
  domain: string | null;
  /** Routing tricks an open relay would honour (source route, `%`, `!`, quoted local part). */
  relayHack: string | null;
}

/**
 * Splits an envelope address at the last `@`. The checks for relay tricks are why this is not a
 * plain split: `"user@other"@ours`, `user%other@ours`, `other!user@ours` and `<@ours:user@other>`
 * all try to make a downstream server forward to somewhere else.
 */
export function parseAddress(raw: string): ParsedAddress {
  let address = raw.trim();
  let relayHack: string | null = null;
  if (address.startsWith('<') && address.endsWith('>')) address = address.slice(1, -1);
  if (address.startsWith('@')) {
    relayHack = 'source route';
    const colon = address.indexOf(':');
    address = colon >= 0 ? address.slice(colon + 1) : address.slice(1);
  }
  const at = address.lastIndexOf('@');
  if (at < 0) return { localPart: address, domain: null, relayHack };
  const localPart = address.slice(0, at);
  const domain = normalizeDomain(address.slice(at + 1));
  if (!relayHack) {
    if (localPart.startsWith('"')) relayHack = 'quoted local part';
    else if (localPart.includes('%')) relayHack = 'percent hack';
    else if (localPart.includes('!')) relayHack = 'bang path';
    else if (localPart.includes('@')) relayHack = 'embedded @';
  }
  return { localPart, domain, relayHack };
}

/** Normalised form of a whole address for comparisons (local part case kept, domain folded). */
export function normalizeAddress(raw: string): string {
  const p = parseAddress(raw);
  return p.domain ? `${p.localPart}@${p.domain}` : p.localPart;
}

/** `*.example.com` covers subdomains only; `example.com` covers itself only; `*` covers all. */
export function domainPatternMatches(pattern: string, domain: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return domain.endsWith(pattern.slice(1));
  return pattern === domain;
}
