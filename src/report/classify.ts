// Per row: which kind of traffic it is (SPEC §1 "Direct Send") and whether enforcing Reject
// Direct Send would refuse it. Pure: the organization (accepted domains, connectors) comes in as a
// compiled policy, and domain and connector matching are the gateway's own (src/policy/), so the
// report predicts exactly what `mxward serve` would do. The caches only memoise pure results.
import type { ClientCertificate } from '../domain/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { findAcceptedDomain, ipInRanges, parseIp } from '../policy/compile.ts';
import { matchConnector } from '../policy/connectors.ts';
import { normalizeDomain } from '../policy/domains.ts';
import type { ReportRow } from './types.ts';
import { detach } from './detach.ts';

export const MESSAGE_KINDS = ['direct-send', 'header-from', 'connector', 'internal', 'external'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export const KIND_TITLES: Record<MessageKind, string> = {
  'direct-send': 'Direct Send (P1 in an accepted domain, no connector)',
  'header-from': 'header-From Direct Send (P2 ours, P1 foreign)',
  connector: 'via a connector',
  internal: 'internal or outbound',
  external: 'ordinary external',
};

export interface Classification {
  kind: MessageKind;
  /** The evidence in one sentence: which column or header decided. */
  reason: string;
  connector: string | null;
  /** EXO's RejectDirectSend (and mxward's P1 check) would refuse this message. */
  wouldReject: boolean;
  /** The enhanced status code the refusal would carry. */
  rejectCode: '5.7.68' | '5.7.51' | null;
}

const CACHE_LIMIT = 200_000;

interface ConnectorHit { kind: string; name: string | null; reason: string }
interface DomainFacts { accepted: boolean; domainOnly: ConnectorHit | undefined }

/** EAC's connector_id names the receiving frontend for ordinary internet mail: not a connector. */
function isInboundConnectorName(name: string): boolean {
  return name !== '' && !/(^|\\)Default /i.test(name) && !/frontend/i.test(name);
}

/** Dotted-quad IPv4 -> unsigned number, or -1 (IPv6, junk). Hand-rolled: it runs per row. */
export function ipv4ToNumber(ip: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      value = value * 256 + part; part = 0; digits = 0; dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return value * 256 + part;
}

/**
 * toLowerCase(), without the call when there is nothing to change: V8 answers it in place only
 * for one-byte strings, and fields cut from a chunk that holds one character beyond Latin-1 (an
 * em dash in any subject) are two-byte, so every address went through the runtime per row.
 */
export function lowerCase(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return text.toLowerCase();
  }
  return text;
}

export function domainOfAddress(address: string | null): string | null {
  if (!address) return null;
  const at = address.lastIndexOf('@');
  if (at < 0 || at === address.length - 1) return null;
  let d = address.slice(at + 1);
  if (d.endsWith('>')) d = d.slice(0, -1);
  return lowerCase(d);
}

/** A classifier bound to one organization; one instance per report run. */
export class Classifier {
  readonly policy: CompiledPolicy;
  readonly nowMs: number;
  /**
   * Per lower-cased domain: accepted, and the connector answer for a P1 in it when only the
   * domain counts (#matchConnector). One map, looked up once per row: with two, each row paid two
   * lookups of a freshly cut string (hashed, then compared with a key of another width), which
   * were 15% of a reading thread's time (issue 17).
   */
  #domains = new Map<string, DomainFacts>();
  #connectors = new Map<string, ConnectorHit>();
  #ipCovered = new Map<string, boolean>();
  /** The domain-only answer for a P1 without a domain (null sender, no `@`). */
  #noDomain: ConnectorHit | undefined;
  /** [start, end, start, end, …] of every enabled connector's IPv4 ranges (IPv4-mapped included). */
  readonly #v4Ranges: number[] = [];

  constructor(policy: CompiledPolicy, nowMs: number) {
    this.policy = policy;
    this.nowMs = nowMs;
    for (const c of policy.connectors) {
      if (!c.settings.enabled) continue;
      for (const [addr, bits] of c.ranges) {
        if (addr.kind() !== 'ipv4') continue;
        const start = ipv4ToNumber(addr.toString());
        const size = 2 ** (32 - bits);
        const first = start - (start % size);
        this.#v4Ranges.push(first, first + size - 1);
      }
    }
  }

  isAccepted(domain: string | null): boolean {
    return domain ? this.#factsOf(domain).accepted : false;
  }

  #factsOf(domain: string): DomainFacts {
    let facts = this.#domains.get(domain);
    if (facts === undefined) {
      facts = { accepted: findAcceptedDomain(this.policy, normalizeDomain(domain)) !== null, domainOnly: undefined };
      if (this.#domains.size >= CACHE_LIMIT) this.#domains.clear();
      this.#domains.set(detach(domain), facts);
    }
    return facts;
  }

  /** Whether any enabled connector's ranges hold this IP; cached per IP (few distinct per export). */
  #ipInSomeConnector(ip: string): boolean {
    // Most exports are IPv4: compare as numbers against the connectors' IPv4 ranges, no lookup.
    const v4 = ipv4ToNumber(ip);
    if (v4 >= 0) {
      const ranges = this.#v4Ranges;
      for (let i = 0; i < ranges.length; i += 2) if (v4 >= ranges[i] && v4 <= ranges[i + 1]) return true;
      return false;
    }
    let hit = this.#ipCovered.get(ip);
    if (hit === undefined) {
      const parsed = parseIp(ip);
      hit = parsed !== null && this.policy.connectors.some((c) => c.settings.enabled && ipInRanges(parsed, c.ranges));
      if (this.#ipCovered.size >= CACHE_LIMIT) this.#ipCovered.clear();
      this.#ipCovered.set(detach(ip), hit);
    }
    return hit;
  }

  /** `p1Facts`: #factsOf(p1Domain), already looked up by the caller (null when p1Domain is empty). */
  #matchConnector(ip: string | null, cert: string | null, p1Domain: string | null, p1Facts: DomainFacts | null): ConnectorHit {
    // Without a certificate and outside every connector range, only the P1 domain can change the
    // answer (a partner restriction, 5.7.51): cache it with the domain, not per IP x domain.
    if (!cert && (ip === null || !this.#ipInSomeConnector(ip))) {
      if (p1Facts !== null) return (p1Facts.domainOnly ??= this.#connectorFor('', null, p1Domain));
      return (this.#noDomain ??= this.#connectorFor('', null, null));
    }
    const key = `${ip ?? ''}\u0000${cert ?? ''}\u0000${p1Domain ?? ''}`;
    let hit = this.#connectors.get(key);
    if (hit === undefined) {
      hit = this.#connectorFor(ip ?? '', cert, p1Domain);
      if (this.#connectors.size >= CACHE_LIMIT) this.#connectors.clear();
      this.#connectors.set(detach(key), hit);
    }
    return hit;
  }

  /** The gateway's own connector matching for one source ('' = no IP: the domain alone). */
  #connectorFor(remoteIp: string, cert: string | null, p1Domain: string | null): ConnectorHit {
    // The exports only say a certificate name when mxward saw it verified; tlsActive is unknown
    // from Microsoft's exports, so RequireTls is not held against the source here.
    const certificate: ClientCertificate | null = cert
      ? { subjectCN: cert, dnsNames: [cert], verified: true, verifyError: null, validFrom: '1970-01-01T00:00:00Z', validTo: '9999-12-31T00:00:00Z', fingerprint256: '' }
      : null;
    const m = matchConnector(this.policy, { remoteIp, tlsActive: true, certificate, p1Domain: p1Domain ? normalizeDomain(p1Domain) : null, nowMs: this.nowMs });
    return { kind: m.kind, name: m.kind === 'none' ? null : m.connector.settings.name, reason: m.reasons[m.reasons.length - 1] ?? '' };
  }

  classify(row: ReportRow): Classification {
    if (row.authAs === 'internal') return plain('internal', 'attribution Internal (X-MS-Exchange-Organization-AuthAs or trace)');
    if (row.direction === 'outbound' || row.direction === 'intra-org') return plain('internal', `direction ${row.direction}`);
    if (row.authAs === 'partner') return { ...plain('connector', 'attribution Partner: a connector vouched for it'), connector: row.connector || null };
    if (row.connector && isInboundConnectorName(row.connector)) {
      return { ...plain('connector', `the export names connector "${row.connector}"`), connector: row.connector };
    }
    // Message trace and EAC reports carry no attribution: mail submitted inside Microsoft 365
    // has no client IP (decided before the P1 domain is even looked at: it runs per row).
    if (row.authAs === null && !row.sourceIp && row.origin.format !== 'mail-headers') return INTERNAL_NO_IP;
    const p1Domain = domainOfAddress(row.p1);
    const p1Facts = p1Domain ? this.#factsOf(p1Domain) : null;
    const p1Ours = p1Facts !== null && p1Facts.accepted;
    if (row.authAs === null) {
      // A message with no recipient of ours is outbound, not Direct Send.
      if (p1Ours && row.direction === null && row.recipients.length > 0 && !row.recipients.some((r) => this.isAccepted(domainOfAddress(r)))) {
        return INTERNAL_OUTBOUND;
      }
    }
    if (row.sourceIp || row.certificateName) {
      const m = this.#matchConnector(row.sourceIp, row.certificateName, p1Domain, p1Facts);
      if (m.kind === 'matched' || m.kind === 'requireTls') return { ...plain('connector', m.reason), connector: m.name };
      if (m.kind === 'restricted') {
        return { kind: p1Ours ? 'direct-send' : 'external', reason: m.reason, connector: m.name, wouldReject: true, rejectCode: '5.7.51' };
      }
    }
    if (p1Ours) {
      return {
        kind: 'direct-send', connector: null, wouldReject: true, rejectCode: '5.7.68',
        reason: `P1 domain ${p1Domain} is accepted and no connector matches ${row.sourceIp ? `source IP ${row.sourceIp}` : 'this source'}`,
      };
    }
    // The null sender never matches the P1 check (SPEC §2.5); the header-From variant still can.
    const p2Ours = row.p2?.find((a) => this.isAccepted(domainOfAddress(a)));
    if (p2Ours) return plain('header-from', `From ${p2Ours} is in an accepted domain, P1 ${row.p1 === '' ? '<>' : (p1Domain ?? 'unknown')} is not`);
    // Bulk exports: most rows are ordinary external mail, neither sampled nor kept per source, so
    // they share one result instead of building a sentence per row.
    if (row.origin.format !== 'mail-headers' && row.origin.format !== 'mxward-trace') return p1Domain ? EXTERNAL_FOREIGN : EXTERNAL_NULL;
    return plain('external', p1Domain ? `P1 domain ${p1Domain} is not accepted` : 'null or unknown P1');
  }
}

function plain(kind: MessageKind, reason: string): Classification {
  return { kind, reason, connector: null, wouldReject: false, rejectCode: null };
}

const INTERNAL_NO_IP = Object.freeze(plain('internal', 'no source IP: submitted inside Microsoft 365'));
const INTERNAL_OUTBOUND = Object.freeze(plain('internal', 'P1 ours and no recipient in an accepted domain: outbound'));
const EXTERNAL_FOREIGN = Object.freeze(plain('external', 'P1 domain is not accepted'));
const EXTERNAL_NULL = Object.freeze(plain('external', 'null or unknown P1'));
