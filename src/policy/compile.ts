// Settings -> frozen matchers. Done once per policy version; every session then decides against
// the compiled form it captured at connect time.
import ipaddr from 'ipaddr.js';
import type { PolicyDocument, ConnectorSettings } from '../config/policy-schema.ts';
import type { Mode } from '../domain/types.ts';
import { domainPatternMatches, normalizeAddress } from './domains.ts';

export type IpRange = readonly [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface CompiledConnector {
  readonly settings: ConnectorSettings;
  readonly ranges: readonly IpRange[];
}

export interface CompiledAcceptedDomain {
  readonly domain: string;
  readonly includeSubdomains: boolean;
  /** Lower-cased full addresses; empty = no directory for this domain. */
  readonly recipients: ReadonlySet<string>;
}

export interface CompiledPolicy {
  readonly version: number;
  readonly rejectDirectSend: Mode;
  readonly rejectDirectSendHeaderFrom: Mode;
  readonly exactDomains: ReadonlyMap<string, CompiledAcceptedDomain>;
  readonly subdomainParents: readonly CompiledAcceptedDomain[];
  readonly connectors: readonly CompiledConnector[];
  readonly document: PolicyDocument;
}

/** Parses an IP the way every comparison needs it: IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  // Every MAIL FROM of every session parses its client IP again; the same few clients come back
  // again and again, so the parsed form is remembered (bounded; results are never mutated).
  const known = parsedIps.get(ip);
  if (known !== undefined) return known;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6 | null;
  try {
    parsed = ipaddr.process(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    parsed = null;
  }
  if (parsedIps.size >= PARSED_IPS_MAX) parsedIps.clear();
  parsedIps.set(ip, parsed);
  return parsed;
}

const PARSED_IPS_MAX = 4096;
const parsedIps = new Map<string, ipaddr.IPv4 | ipaddr.IPv6 | null>();

function compileRange(text: string): IpRange {
  if (text.includes('/')) {
    const [addr, bits] = ipaddr.parseCIDR(text);
    // A mapped IPv6 range like ::ffff:10.0.0.0/104 is written for IPv4 clients: compare as IPv4.
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
    }
    return [addr, bits];
  }
  const addr = ipaddr.process(text);
  return [addr, addr.kind() === 'ipv4' ? 32 : 128];
}

export function compilePolicy(document: PolicyDocument, version: number): CompiledPolicy {
  const exactDomains = new Map<string, CompiledAcceptedDomain>();
  const subdomainParents: CompiledAcceptedDomain[] = [];
  for (const d of document.acceptedDomains) {
    const compiled: CompiledAcceptedDomain = Object.freeze({
      domain: d.domain,
      includeSubdomains: d.includeSubdomains,
      recipients: new Set(d.recipients.map((r) => normalizeAddress(r).toLowerCase())),
    });
    exactDomains.set(d.domain, compiled);
    if (d.includeSubdomains) subdomainParents.push(compiled);
  }
  const connectors = document.connectors.map((settings) => Object.freeze({
    settings,
    ranges: Object.freeze(settings.senderIPAddresses.map(compileRange)),
  }));
  return Object.freeze({
    version,
    rejectDirectSend: document.rejectDirectSend,
    rejectDirectSendHeaderFrom: document.rejectDirectSendHeaderFrom,
    exactDomains,
    subdomainParents: Object.freeze(subdomainParents),
    connectors: Object.freeze(connectors),
    document,
  });
}

/** The accepted-domain entry covering a normalised domain, or null. */
export function findAcceptedDomain(policy: CompiledPolicy, domain: string | null): CompiledAcceptedDomain | null {
  if (!domain) return null;
  const exact = policy.exactDomains.get(domain);
  if (exact) return exact;
  for (const parent of policy.subdomainParents) {
    if (domainPatternMatches(`*.${parent.domain}`, domain)) return parent;
  }
  return null;
}

export function ipInRanges(ip: ipaddr.IPv4 | ipaddr.IPv6, ranges: readonly IpRange[]): boolean {
  for (const [addr, bits] of ranges) {
    if (addr.kind() === ip.kind() && ip.match(addr, bits)) return true;
  }
  return false;
}
