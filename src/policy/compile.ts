// Settings -> frozen matchers. Done once per policy version; every session then decides against
// the compiled form it captured at connect time.
import ipaddr from 'ipaddr.js';
import type { PolicyDocument, ConnectorSettings } from '../config/policy-schema.ts';
import type { Mode } from '../domain/types.ts';
import { domainPatternMatches, normalizeAddress } from './domains.ts';
import type { PrefixBounds } from './ip-syntax.ts';
import { checkConnectorRange, DEFAULT_ON_PREMISES_MIN_PREFIX, parseAddressStrict } from './ip-syntax.ts';

export type IpRange = readonly [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface RefusedRange {
  readonly text: string;
  readonly reason: string;
}

export interface CompiledConnector {
  readonly settings: ConnectorSettings;
  readonly ranges: readonly IpRange[];
  /** Entries of senderIPAddresses that match nothing, with why (stored before the strict rules). */
  readonly refusedRanges: readonly RefusedRange[];
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

/**
 * Parses a client IP the way every comparison needs it: IPv4-mapped IPv6 becomes IPv4. Strict
 * syntax (ip-syntax.ts): no octal, hex or shortened IPv4, so a Received: field or HELO literal
 * cannot smuggle `010.1.2.3` in as 8.1.2.3. `::a.b.c.d` is the IPv6 address it denotes.
 */
export function parseIp(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  // Every MAIL FROM of every session parses its client IP again; the same few clients come back
  // again and again, so the parsed form is remembered (bounded; results are never mutated).
  const known = parsedIps.get(ip);
  if (known !== undefined) return known;
  const strict = parseAddressStrict(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, ''), { allowCompatible: true });
  let parsed: ipaddr.IPv4 | ipaddr.IPv6 | null = null;
  if (strict.ok) {
    const a = strict.address;
    parsed = a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
  }
  if (parsedIps.size >= PARSED_IPS_MAX) parsedIps.clear();
  parsedIps.set(ip, parsed);
  return parsed;
}

const PARSED_IPS_MAX = 4096;
const parsedIps = new Map<string, ipaddr.IPv4 | ipaddr.IPv6 | null>();

/** The widest range an onPremises connector may trust under this policy. */
export function onPremisesBounds(document: PolicyDocument): PrefixBounds {
  return { ...DEFAULT_ON_PREMISES_MIN_PREFIX, ...document.onPremisesMinPrefixLength };
}

/**
 * A stored document may predate the strict rules (octal, ::ffff:0:0/96, too wide for onPremises).
 * Such an entry matches nothing (fail closed) and is kept with its reason for logs and the audit.
 */
function compileConnector(settings: ConnectorSettings, bounds: PrefixBounds): CompiledConnector {
  const ranges: IpRange[] = [];
  const refusedRanges: RefusedRange[] = [];
  for (const text of settings.senderIPAddresses) {
    const checked = checkConnectorRange(text, settings.type === 'onPremises', bounds);
    if (checked.ok) ranges.push([checked.range.address, checked.range.bits]);
    else refusedRanges.push(Object.freeze({ text, reason: checked.reason }));
  }
  return Object.freeze({ settings, ranges: Object.freeze(ranges), refusedRanges: Object.freeze(refusedRanges) });
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
  const bounds = onPremisesBounds(document);
  const connectors = document.connectors.map((settings) => compileConnector(settings, bounds));
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
