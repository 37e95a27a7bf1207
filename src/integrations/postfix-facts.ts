// What Postfix tells mxward about the client (policy attributes or milter macros), turned into
// the gateway's ConnectionFacts so that the same pure decisions (policy/decide.ts) apply.
import type { ClientCertificate, ConnectionFacts, RuleHit } from '../domain/types.ts';
import type { UserStore } from '../store/ports.ts';

export type TraceSource = 'postfix-policyd' | 'postfix-milter';

export interface PostfixClient {
  sessionId: string;
  remoteIp: string;
  remotePort: number;
  helo: string | null;
  ptr: string | null;
  tlsVersion: string | null;
  tlsCipher: string | null;
  /**
   * The certificate's CN. Postfix passes it (ccert_subject, {cert_subject}) only for a client
   * certificate that verified against smtpd_tls_CAfile; unverified ones arrive as ''.
   */
  certSubject: string | null;
  /** SHA-256 fingerprint (ccert_fingerprint with smtpd_tls_fingerprint_digest = sha256). */
  certFingerprint: string | null;
  saslUser: string | null;
}

/**
 * The client certificate as the connector matcher expects it. Postfix verified the chain and its
 * dates before it named the subject, so a named certificate is `verified`. A certificate with a
 * fingerprint but no trusted subject is presented unverified: like the gateway, mxward does not
 * let an unverified certificate match a connector (SPEC §2.2).
 */
function certificateOf(c: PostfixClient): ClientCertificate | null {
  const subject = c.certSubject?.trim() || null;
  const fingerprint = c.certFingerprint?.trim() || null;
  if (!subject && !fingerprint) return null;
  return {
    subjectCN: subject,
    dnsNames: subject ? [subject] : [],
    verified: subject !== null,
    verifyError: subject ? null : 'Postfix did not trust the client certificate (no ccert_subject)',
    validFrom: '1970-01-01T00:00:00Z',
    validTo: '9999-12-31T23:59:59Z',
    fingerprint256: fingerprint ?? '',
  };
}

export function connectionFactsOf(c: PostfixClient, authSendAs: string[]): ConnectionFacts {
  const tls = c.tlsVersion ? { version: c.tlsVersion, cipher: c.tlsCipher ?? '', clientCertificate: certificateOf(c) } : null;
  return {
    sessionId: c.sessionId, remoteIp: c.remoteIp, remotePort: c.remotePort, localPort: 25, listener: 'inbound',
    helo: c.helo, ptr: c.ptr, tls, authUser: c.saslUser, authSendAs,
  };
}

/**
 * Whom a Postfix-authenticated user may send as. A user mxward knows has its own list; for one it
 * does not know, Postfix's smtpd_sender_login_maps is the authority (docs/postfix.md), so the
 * envelope sender Postfix accepted is taken as allowed, and the trace says so.
 */
export async function sendAsFor(users: UserStore, saslUser: string | null, mailFrom: string): Promise<{ addresses: string[]; hits: RuleHit[] }> {
  if (!saslUser) return { addresses: [], hits: [] };
  const known = await users.getUser(saslUser);
  if (known) return { addresses: known.addresses, hits: [] };
  return {
    addresses: mailFrom ? [mailFrom] : [],
    hits: [{ rule: 'postfix.sasl', detail: `SASL user ${saslUser} is not an mxward user: send-as left to Postfix (smtpd_sender_login_maps)` }],
  };
}

/** Postfix writes `unknown` for a client without PTR name; the trace keeps null instead. */
export function knownName(value: string | undefined): string | null {
  const v = value?.trim();
  return v && v !== 'unknown' ? v : null;
}

/** The rule hit that marks a trace record's front end (the store keeps it without a new column). */
export function sourceHit(source: TraceSource): RuleHit {
  return { rule: 'source', detail: source };
}
