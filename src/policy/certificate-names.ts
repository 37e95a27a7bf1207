// Certificate name matching for connectors (RFC 6125 §6.4). Pure: the TLS layer hands us the
// names and the verification outcome; this file decides whether a connector's name is covered.
//
// The names a certificate presents are compared exactly as they are written in it (ASCII case
// folded, RFC 6125 §6.4.1), never trimmed, mapped or IDNA-processed: a CA's name constraints are
// checked by OpenSSL against those exact bytes, so a sub-CA limited to partner.test can issue
// `relay.ours.test ` or `relay.ours.test.` or full-width letters, and OpenSSL lets it through
// because the constraint does not match the odd form. Normalising such a name to relay.ours.test
// would hand the sub-CA a name it was never allowed to certify; a name that is not plain LDH is
// therefore not presented at all (issue 19).
import type { ClientCertificate } from '../domain/types.ts';
import { normalizeDomain } from './domains.ts';

/** A letter-digit-hyphen label (RFC 1123 §2.1): 1 to 63 characters, no hyphen at either end. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function ldhHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => LDH_LABEL.test(label));
}

/** Lower-cases ASCII letters only: `toLowerCase` would also fold non-ASCII (İ, K (Kelvin sign)). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * Why a presented name is refused, or null when it is an RFC 6125 reference-able DNS name: LDH
 * labels, optionally a wildcard that is the whole left-most label over at least two more labels.
 */
export function presentedNameProblem(raw: string): string | null {
  if (/[\s\u0085\u00a0]/u.test(raw)) return 'contains whitespace';
  if (/[\x00-\x1f\x7f]/.test(raw)) return 'contains a control character';
  if (/[^\x00-\x7f]/.test(raw)) return 'contains non-ASCII characters (a name must be in A-label form)';
  if (raw.endsWith('.')) return 'has a trailing dot';
  const name = asciiLower(raw);
  const wildcard = name.startsWith('*.');
  const base = wildcard ? name.slice(2) : name;
  if (base.includes('*')) return 'has a wildcard that is not the whole left-most label';
  if (!ldhHostName(base)) return 'is not a host name of letters, digits and hyphens';
  if (wildcard && !base.includes('.')) return 'is a wildcard directly over a top-level label';
  return null;
}

/** A name as the certificate presents it, lower-cased, or null when it is refused. */
export function presentedName(raw: string): string | null {
  return presentedNameProblem(raw) === null ? asciiLower(raw) : null;
}

/** SAN dNSNames when there is at least one, else the CN (RFC 6125 §6.4.4), before any check. */
export function rawPresentedNames(cert: ClientCertificate): string[] {
  return cert.dnsNames.length > 0 ? cert.dnsNames : cert.subjectCN !== null ? [cert.subjectCN] : [];
}

/** The identifiers to compare. A refused SAN never lets the CN stand in for it. */
export function presentedNames(cert: ClientCertificate): string[] {
  return rawPresentedNames(cert).map(presentedName).filter((n): n is string => n !== null);
}

/**
 * A connector's configured name (trusted administrator input): trimmed, trailing dot dropped, an
 * IDN taken in A-label form; what results must be LDH (optionally `*.domain`). Null otherwise.
 */
export function connectorCertificateName(value: string): string | null {
  const trimmed = value.trim();
  const wildcard = trimmed.startsWith('*.');
  const d = normalizeDomain(wildcard ? trimmed.slice(2) : trimmed);
  if (!d) return null;
  const name = wildcard ? `*.${d}` : d;
  return presentedNameProblem(name) === null ? name : null;
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
 * is covered by one of the names the certificate presents (already checked by presentedNames).
 */
export function certificateNameMatches(connectorName: string, presented: string[]): boolean {
  const wanted = connectorCertificateName(connectorName);
  if (!wanted) return false;
  for (const name of presented) {
    if (name === wanted) return true;
    if (wildcardCovers(name, wanted)) return true; // cert *.a.com, connector mx.a.com
    if (wildcardCovers(wanted, name)) return true; // connector *.a.com, cert mx.a.com
  }
  return false;
}

/** `AB:CD:…` upper-case, as Node prints fingerprint256; null when it is not a SHA-256. */
export function normalizeFingerprint(value: string): string | null {
  const hex = value.trim().replace(/^sha256[:=]\s*/i, '').replace(/:/g, '');
  return /^[0-9A-Fa-f]{64}$/.test(hex) ? hex.toUpperCase().match(/../g)!.join(':') : null;
}

/** A pin list, when given, must contain the leaf's SHA-256 (like Postfix's check_ccert_access). */
export function fingerprintPinned(pins: readonly string[] | undefined, cert: ClientCertificate): boolean {
  if (!pins || pins.length === 0) return true;
  const presented = normalizeFingerprint(cert.fingerprint256 ?? '');
  return presented !== null && pins.some((p) => normalizeFingerprint(p) === presented);
}

/** Only a chain that verified and a certificate inside its validity period may match (SPEC §2.2). */
export function certificateUsable(cert: ClientCertificate | null | undefined, nowMs: number): cert is ClientCertificate {
  if (!cert || !cert.verified) return false;
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (Number.isNaN(from) || Number.isNaN(to)) return false;
  return nowMs >= from && nowMs <= to;
}
