// Certificate name matching for connectors (RFC 6125 §6.4). Pure: the TLS layer hands us the
// names and the verification outcome; this file decides whether a connector's name is covered.
import type { ClientCertificate } from '../domain/types.ts';
import { normalizeDomain } from './domains.ts';

/** The identifiers to compare: SAN dNSNames, or the CN only when there is no dNSName (RFC 6125 §6.4.4). */
export function presentedNames(cert: ClientCertificate): string[] {
  const names = cert.dnsNames.length > 0 ? cert.dnsNames : cert.subjectCN ? [cert.subjectCN] : [];
  return names.map(normalizeCertName).filter((n): n is string => n !== null);
}

function normalizeCertName(name: string): string | null {
  const wildcard = name.startsWith('*.');
  const d = normalizeDomain(wildcard ? name.slice(2) : name);
  if (!d) return null;
  return wildcard ? `*.${d}` : d;
}

/**
 * A wildcard is only the whole left-most label and stands for exactly one label: `*.a.com`
 * covers `mx.a.com`, never `a.com` nor `x.mx.a.com` (RFC 6125 §6.4.3).
 */
function wildcardCovers(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1); // ".a.com"
  if (!name.endsWith(suffix)) return false;
  const label = name.slice(0, -suffix.length);
  return label.length > 0 && !label.includes('.') && label !== '*';
}

/**
 * Whether a connector's `tlsSenderCertificateName` (itself possibly `*.domain`, as EXO allows)
 * is covered by one of the names the certificate presents.
 */
export function certificateNameMatches(connectorName: string, presented: string[]): boolean {
  const wanted = normalizeCertName(connectorName);
  if (!wanted) return false;
  for (const name of presented) {
    if (name === wanted) return true;
    if (wildcardCovers(name, wanted)) return true; // cert *.a.com, connector mx.a.com
    if (wildcardCovers(wanted, name)) return true; // connector *.a.com, cert mx.a.com
  }
  return false;
}

/** Only a chain that verified and a certificate inside its validity period may match (SPEC §2.2). */
export function certificateUsable(cert: ClientCertificate | null | undefined, nowMs: number): cert is ClientCertificate {
  if (!cert || !cert.verified) return false;
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (Number.isNaN(from) || Number.isNaN(to)) return false;
  return nowMs >= from && nowMs <= to;
}
