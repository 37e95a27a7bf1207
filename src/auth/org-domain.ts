// Organizational Domain (RFC 7489 §3.2) from the Public Suffix List, private section included so
// that two customers of one shared host (a.github.io, b.github.io) never align with each other.
// Pure: the list ships inside the `tldts` package, no DNS is asked.
import { getDomain } from 'tldts';

function normalise(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** The registrable domain, or the name itself when it is a public suffix or not a domain. */
export function organizationalDomain(domain: string): string {
  const d = normalise(domain);
  return getDomain(d, { allowPrivateDomains: true }) ?? d;
}

/** Relaxed alignment (RFC 7489 §3.1): same Organizational Domain. A public suffix aligns with nothing. */
export function relaxedAligned(a: string, b: string): boolean {
  const x = normalise(a);
  const y = normalise(b);
  if (x === y) return true;
  const org = organizationalDomain(x);
  return org === organizationalDomain(y) && getDomain(org, { allowPrivateDomains: true }) === org;
}

/** Strict alignment (RFC 7489 §3.1): identical names. */
export function strictAligned(a: string, b: string): boolean {
  return normalise(a) === normalise(b);
}
