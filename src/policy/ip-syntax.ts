// Strict IP address and CIDR syntax (issue 19). ipaddr.js, like inet_aton, also reads the legacy
// forms: `010.1.2.0` as octal (8.1.2.0), `0x7f.1`, `127.1`, and it turns the IPv4-compatible
// `::1.2.3.4` into the IPv4-mapped ::ffff:1.2.3.4. A policy written by a human must mean what it
// looks like, so only the RFC 4291 §2.2 text forms and plain dotted-quad decimal are read here;
// ipaddr.js is only handed addresses already known to be well formed. Pure: no I/O.
import ipaddr from 'ipaddr.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;
export type IpSyntax = { ok: true; address: IpAddress } | { ok: false; reason: string };
export type CidrSyntax = { ok: true; address: IpAddress; bits: number } | { ok: false; reason: string };

/** `0`..`255`, decimal, no leading zero: `010` is octal to inet_aton and decimal to people. */
const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function parseV4Octets(text: string): number[] | string {
  const parts = text.split('.');
  if (parts.length !== 4) return 'an IPv4 address has four dot-separated decimal octets';
  const octets: number[] = [];
  for (const p of parts) {
    if (/^0[0-9]+$/.test(p)) return `octet ${JSON.stringify(p)} has a leading zero (legacy parsers read it as octal)`;
    if (!OCTET.test(p) || Number(p) > 255) return `octet ${JSON.stringify(p)} is not a decimal number from 0 to 255`;
    octets.push(Number(p));
  }
  return octets;
}

function parseHexGroups(text: string): number[] | string {
  if (text === '') return [];
  const groups: number[] = [];
  for (const g of text.split(':')) {
    if (!HEX_GROUP.test(g)) return `${JSON.stringify(g)} is not a group of 1 to 4 hex digits`;
    groups.push(parseInt(g, 16));
  }
  return groups;
}

/** RFC 4291 §2.2: eight 16-bit groups, one `::` at most, an embedded dotted IPv4 only at the end. */
function parseV6Groups(text: string): number[] | string {
  let body = text;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const octets = parseV4Octets(text.slice(lastColon + 1));
    if (typeof octets === 'string') return octets;
    tail = [(octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]];
    body = text.slice(0, lastColon + 1);
    if (body.endsWith(':') && !body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return 'more than one "::"';
  const head = parseHexGroups(halves[0]);
  if (typeof head === 'string') return head;
  const rest = halves.length === 2 ? parseHexGroups(halves[1]) : [];
  if (typeof rest === 'string') return rest;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 && given !== 8) return 'an IPv6 address without "::" has eight groups';
  if (halves.length === 2 && given > 7) return '"::" must stand for at least one group';
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
}

/**
 * One address, strictly. IPv6 stays IPv6 here (mapping to IPv4 is the caller's choice).
 * `allowCompatible`: accept the deprecated IPv4-compatible text `::a.b.c.d` (RFC 4291 §2.5.5.1) as
 * the IPv6 address it is; inet_ntop prints some client addresses that way, but in a policy it is
 * refused because it reads as, and used to be treated as, IPv4.
 */
export function parseAddressStrict(text: string, opts: { allowCompatible?: boolean } = {}): IpSyntax {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return { ok: false, reason: 'only digits, hex letters, ":" and "." may appear in an IP address' };
  if (!text.includes(':')) {
    const octets = parseV4Octets(text);
    return typeof octets === 'string' ? { ok: false, reason: octets } : { ok: true, address: new ipaddr.IPv4(octets) };
  }
  const groups = parseV6Groups(text);
  if (typeof groups === 'string') return { ok: false, reason: groups };
  const embedsV4 = text.slice(text.lastIndexOf(':') + 1).includes('.');
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (embedsV4 && !mapped && !opts.allowCompatible) {
    return { ok: false, reason: 'a dotted IPv4 part is only accepted in the IPv4-mapped form ::ffff:a.b.c.d (the IPv4-compatible ::a.b.c.d is deprecated, RFC 4291 §2.5.5.1)' };
  }
  return { ok: true, address: new ipaddr.IPv6(groups) };
}

/** `address` or `address/bits`, bits in decimal without a leading zero. */
export function parseCidrStrict(text: string): CidrSyntax {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseAddressStrict(addressText);
  if (!parsed.ok) return parsed;
  const max = parsed.address.kind() === 'ipv4' ? 32 : 128;
  if (slash < 0) return { ok: true, address: parsed.address, bits: max };
  const bitsText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > max) {
    return { ok: false, reason: `prefix length ${JSON.stringify(bitsText)} is not a decimal number from 0 to ${max}` };
  }
  return { ok: true, address: parsed.address, bits: Number(bitsText) };
}

export interface EffectiveRange {
  address: IpAddress;
  bits: number;
}

/**
 * The range as clients are compared against it: a mapped IPv6 range (::ffff:10.0.0.0/104) is
 * written for IPv4 clients, whose mapped addresses are compared as IPv4 (see parseIp).
 */
export function effectiveRange(address: IpAddress, bits: number): EffectiveRange {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return { address: (address as ipaddr.IPv6).toIPv4Address(), bits: bits - 96 };
  }
  return { address, bits };
}

const MAPPED_SPACE = new ipaddr.IPv6([0, 0, 0, 0, 0, 0xffff, 0, 0]);

/**
 * Why a range is too wide for any connector, or null: all of IPv4 (0.0.0.0/0, ::ffff:0:0/96), all
 * of IPv6 (::/0), or an IPv6 range that contains the whole IPv4-mapped space.
 */
export function coversEverything(range: EffectiveRange): string | null {
  if (range.bits === 0) return range.address.kind() === 'ipv4' ? 'covers all of IPv4' : 'covers all of IPv6';
  if (range.address.kind() === 'ipv6' && range.bits <= 96 && MAPPED_SPACE.match(range.address, range.bits)) {
    return 'contains the whole IPv4-mapped space ::ffff:0:0/96, that is all of IPv4';
  }
  return null;
}

/** Narrowest allowed prefix lengths, i.e. the widest range an onPremises connector may trust. */
export interface PrefixBounds {
  ipv4: number;
  ipv6: number;
}

/**
 * Defaults for onPremises connectors, which make their sources `internal` (relay to anywhere, no
 * Direct Send check). /16 is 65,536 addresses: a large campus, never a provider's whole block;
 * /48 is one site's standard IPv6 assignment (RFC 6177). Wider needs an explicit policy setting.
 */
export const DEFAULT_ON_PREMISES_MIN_PREFIX: PrefixBounds = Object.freeze({ ipv4: 16, ipv6: 48 });

const LOOPBACK_V4 = new ipaddr.IPv4([127, 0, 0, 0]);

/** Inside 127.0.0.0/8: only this host can send from there (RFC 1122 §3.2.1.3), however wide. */
function withinLoopback(range: EffectiveRange): boolean {
  return range.address.kind() === 'ipv4' && range.bits >= 8 && range.address.match(LOOPBACK_V4, 8);
}

export type ConnectorRange = { ok: true; range: EffectiveRange } | { ok: false; reason: string };

/** One `senderIPAddresses` entry of a connector: strict syntax, never everything, bounded when internal. */
export function checkConnectorRange(text: string, internal: boolean, bounds: PrefixBounds): ConnectorRange {
  const cidr = parseCidrStrict(text);
  if (!cidr.ok) return { ok: false, reason: `not a strict IP address or CIDR: ${cidr.reason}` };
  const range = effectiveRange(cidr.address, cidr.bits);
  const everything = coversEverything(range);
  if (everything) return { ok: false, reason: `${text} ${everything}: no connector may trust that` };
  const min = range.address.kind() === 'ipv4' ? bounds.ipv4 : bounds.ipv6;
  if (internal && range.bits < min && !withinLoopback(range)) {
    return { ok: false, reason: `${text} is wider than /${min} (${range.address.kind() === 'ipv4' ? 'IPv4' : 'IPv6'}), the widest range an onPremises connector may make internal (policy onPremisesMinPrefixLength)` };
  }
  return { ok: true, range };
}
