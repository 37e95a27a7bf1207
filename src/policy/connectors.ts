// Inbound connector matching (SPEC §1 "connector", §2 stage 4): certificate first, then IP.
// A connector that would only match on sender domain never authenticates anything.
import type { ClientCertificate, ConnectionFacts } from '../domain/types.ts';
import type { CompiledConnector, CompiledPolicy } from './compile.ts';
import { ipInRanges, parseIp } from './compile.ts';
import { certificateNameMatches, certificateUsable, presentedNames } from './certificate-names.ts';
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

function certMatches(connector: CompiledConnector, names: string[]): boolean {
  const wanted = connector.settings.tlsSenderCertificateName;
  return wanted !== null && names.length > 0 && certificateNameMatches(wanted, names);
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
  const names = usable ? presentedNames(q.certificate!) : [];
  if (q.certificate && !usable) {
    reasons.push(q.certificate.verified ? 'client certificate outside its validity period: ignored' : `client certificate not verified (${q.certificate.verifyError ?? 'unknown'}): ignored`);
  }
  const enabled = policy.connectors.filter((c) => c.settings.enabled);

  let found: { connector: CompiledConnector; by: 'certificate' | 'ip' } | null = null;
  for (const c of enabled) {
    if (coversSender(c, q.p1Domain) && certMatches(c, names)) { found = { connector: c, by: 'certificate' }; break; }
  }
  if (!found && ip) {
    for (const c of enabled) {
      if (!coversSender(c, q.p1Domain) || !ipInRanges(ip, c.ranges)) continue;
      // An IP match alone does not satisfy a connector that insists on its certificate.
      if (c.settings.restrictDomainsToCertificate && c.settings.tlsSenderCertificateName) continue;
      found = { connector: c, by: 'ip' };
      break;
    }
  }
  if (found) {
    const { connector, by } = found;
    reasons.push(`${by === 'certificate' ? `certificate name ${names.join(', ')}` : `source IP ${q.remoteIp}`} matches connector "${connector.settings.name}"`);
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
