// Inbound connector matching (SPEC §1 "connector", §2 stage 4): certificate first, then IP.
// A connector that would only match on sender domain never authenticates anything.
import type { ClientCertificate, ConnectionFacts } from '../domain/types.ts';
import type { CompiledConnector, CompiledPolicy } from './compile.ts';
import { ipInRanges, parseIp } from './compile.ts';
import { certificateNameMatches, certificateUsable, fingerprintPinned, presentedNameProblem, presentedNames, rawPresentedNames } from './certificate-names.ts';
import { domainPatternMatches } from './domains.ts';

export type ConnectorMatch =
  | { kind: 'matched'; connector: CompiledConnector; by: 'certificate' | 'ip'; reasons: string[] }
  | { kind: 'restricted'; connector: CompiledConnector; reasons: string[] }
  | { kind: 'requireTls'; connector: CompiledConnector; reasons: string[] }
  | { kind: 'none'; reasons: string[] };

/** The null sender has no domain: only a `*` connector covers it. */
function coversSender(connector: CompiledConnector, p1Domain: string | null): boolean {
  return connector.settings.senderDomains.some((pattern) =>
    p1Domain === null ? pattern === '*' : domainPatternMatches(pattern, p1Domain));
}

/**
 * The certificate satisfies the connector: its name (when one is configured) is presented, and
 * its SHA-256 is pinned (when pins are configured). Pins alone are enough; neither is nothing.
 */
function certMatches(connector: CompiledConnector, cert: ClientCertificate | null, names: string[]): boolean {
  const { tlsSenderCertificateName: wanted, certificateFingerprints: pins } = connector.settings;
  if (cert === null || (wanted === null && !(pins && pins.length > 0))) return false;
  if (wanted !== null && (names.length === 0 || !certificateNameMatches(wanted, names))) return false;
  return fingerprintPinned(pins, cert);
}

/** Why names in the certificate were not compared at all: they are not plain LDH (RFC 6125). */
function refusedNameReasons(cert: ClientCertificate): string[] {
  return rawPresentedNames(cert).flatMap((raw) => {
    const problem = presentedNameProblem(raw);
    return problem === null ? [] : [`certificate name ${JSON.stringify(raw)} ${problem}: not compared`];
  });
}

export interface ConnectorQuery {
  remoteIp: string;
  tlsActive: boolean;
  certificate: ClientCertificate | null;
  p1Domain: string | null;
  nowMs: number;
}

export function connectorQueryFor(facts: ConnectionFacts, p1Domain: string | null, nowMs: number): ConnectorQuery {
  return { remoteIp: facts.remoteIp, tlsActive: facts.tls !== null, certificate: facts.tls?.clientCertificate ?? null, p1Domain, nowMs };
}

export function matchConnector(policy: CompiledPolicy, q: ConnectorQuery): ConnectorMatch {
  const reasons: string[] = [];
  const ip = parseIp(q.remoteIp);
  const usable = certificateUsable(q.certificate, q.nowMs);
  const usableCert = usable ? q.certificate : null;
  const names = usableCert ? presentedNames(usableCert) : [];
  if (usableCert) reasons.push(...refusedNameReasons(usableCert));
  if (q.certificate && !usable) {
    reasons.push(q.certificate.verified ? 'client certificate outside its validity period: ignored' : `client certificate not verified (${q.certificate.verifyError ?? 'unknown'}): ignored`);
  }
  const enabled = policy.connectors.filter((c) => c.settings.enabled);

  let found: { connector: CompiledConnector; by: 'certificate' | 'ip' } | null = null;
  for (const c of enabled) {
    if (coversSender(c, q.p1Domain) && certMatches(c, usableCert, names)) { found = { connector: c, by: 'certificate' }; break; }
  }
  if (!found && ip) {
    for (const c of enabled) {
      if (!coversSender(c, q.p1Domain) || !ipInRanges(ip, c.ranges)) continue;
      // An IP match alone does not satisfy a connector that insists on its certificate.
      if (c.settings.restrictDomainsToCertificate && (c.settings.tlsSenderCertificateName || c.settings.certificateFingerprints?.length)) continue;
      found = { connector: c, by: 'ip' };
      break;
    }
  }
  if (found) {
    const { connector, by } = found;
    reasons.push(`${by === 'certificate' ? `certificate ${names.length ? `name ${names.join(', ')}` : `fingerprint ${q.certificate!.fingerprint256}`}` : `source IP ${q.remoteIp}`} matches connector "${connector.settings.name}"`);
    if (connector.settings.requireTls && !q.tlsActive) {
      reasons.push(`connector "${connector.settings.name}" requires TLS and the session is not encrypted`);
      return { kind: 'requireTls', connector, reasons };
    }
    return { kind: 'matched', connector, by, reasons };
  }

  // No connector vouches for this source. A partner connector that claims the P1 domain and
  // restricts it to its IPs or certificate turns that into a rejection (EXO's 5.7.51).
  for (const c of enabled) {
    if (c.settings.type !== 'partner' || q.p1Domain === null || !coversSender(c, q.p1Domain)) continue;
    if (c.settings.restrictDomainsToIPAddresses || c.settings.restrictDomainsToCertificate) {
      reasons.push(`partner connector "${c.settings.name}" restricts ${q.p1Domain} to its ${c.settings.restrictDomainsToCertificate ? 'certificate' : 'IP addresses'}`);
      return { kind: 'restricted', connector: c, reasons };
    }
  }
  reasons.push('no connector matches this source');
  return { kind: 'none', reasons };
}
