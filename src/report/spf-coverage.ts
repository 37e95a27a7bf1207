// Is a source IP authorised by the sending domain's SPF record? (issue 12, SPEC §11). The answer
// is positive evidence for a connector suggestion, so only a `pass` mechanism that really names
// the address counts: `+all`, `?`/`~`/`-` qualifiers, unresolved `a`/`mx`/`include`, `exists`
// and `ptr` never do, and ranges wider than /16 (IPv4) or /32 (IPv6) are too broad to vouch for
// one sender. Records come from `--spf DOMAIN="v=spf1 …"` (offline) or are looked up with
// `--dns` before the report is finished (loadSpfRecords), so the evaluation itself is pure.
import ipaddr from 'ipaddr.js';

/** What was looked up: TXT-derived SPF records and the addresses behind `a`/`mx` names. */
export interface SpfTable {
  /** domain -> its `v=spf1` record, or null when the domain has none (looked up, nothing found). */
  records: Map<string, string | null>;
  /** host -> its A/AAAA addresses (a and mx mechanisms); absent = not looked up. */
  addresses: Map<string, string[]>;
  /** domain -> its MX host names; absent = not looked up. */
  mx: Map<string, string[]>;
}

export function emptySpfTable(): SpfTable {
  return { records: new Map(), addresses: new Map(), mx: new Map() };
}

export type SpfCoverage =
  | { covered: true; domain: string; mechanism: string; cidr: string }
  | { covered: false; domain: string; why: string };

/** Narrowest ranges that still count as naming a sender, per family. */
const MIN_PREFIX = { ipv4: 16, ipv6: 32 } as const;
/** RFC 7208 §4.6.4 allows 10 DNS-querying terms; includes nested deeper than this are refused. */
const MAX_DEPTH = 10;

const lower = (d: string): string => d.toLowerCase().replace(/\.$/, '');

interface Term { qualifier: string; name: string; value: string | null; prefix4: number | null; prefix6: number | null }

/** `+ip4:1.2.3.0/24` -> parts; modifiers (`redirect=`) come back with name `redirect`. */
export function parseSpfTerms(record: string): Term[] {
  const out: Term[] = [];
  for (const raw of record.trim().split(/\s+/).slice(1)) {
    if (!raw) continue;
    const eq = raw.indexOf('=');
    const colon = raw.indexOf(':');
    if (eq > 0 && (colon < 0 || eq < colon)) { out.push({ qualifier: '+', name: raw.slice(0, eq).toLowerCase(), value: raw.slice(eq + 1), prefix4: null, prefix6: null }); continue; }
    const qualifier = '+-~?'.includes(raw[0]) ? raw[0] : '+';
    let body = qualifier === raw[0] ? raw.slice(1) : raw;
    // a/mx carry dual CIDR lengths (`a:host/24//64`); ip4/ip6 carry theirs inside the value.
    let prefix4: number | null = null;
    let prefix6: number | null = null;
    const name = (body.split(/[:/]/)[0] ?? '').toLowerCase();
    if (name === 'a' || name === 'mx') {
      const dual = /(?:\/(\d+))?(?:\/\/(\d+))?$/.exec(body);
      if (dual?.[1]) prefix4 = Number(dual[1]);
      if (dual?.[2]) prefix6 = Number(dual[2]);
      body = body.slice(0, body.length - (dual?.[0].length ?? 0));
    }
    const value = body.includes(':') ? body.slice(body.indexOf(':') + 1) : null;
    out.push({ qualifier, name, value, prefix4, prefix6 });
  }
  return out;
}

function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    const a = ipaddr.parse(ip);
    return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
  } catch {
    return null;
  }
}

/** `1.2.3.0/24` (or a bare address) holds ip? Returns the normalised CIDR, or null. */
function cidrHolds(ip: ipaddr.IPv4 | ipaddr.IPv6, cidr: string, defaultPrefix: number | null): string | null {
  const [addrText, lenText] = cidrOrHost(cidr, defaultPrefix);
  const net = parseAddress(addrText);
  if (!net || net.kind() !== ip.kind()) return null;
  const len = lenText ?? (net.kind() === 'ipv4' ? 32 : 128);
  if (!Number.isInteger(len) || len < 0 || len > (net.kind() === 'ipv4' ? 32 : 128)) return null;
  if (!ip.match(net, len)) return null;
  const first = net.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${net.toString()}/${len}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${net.toString()}/${len}`).toNormalizedString().replace(/(^|:)0(:0)+(:|$)/, '::');
  return `${first}/${len}`;
}

function cidrOrHost(text: string, defaultPrefix: number | null): [string, number | null] {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return [text, defaultPrefix];
  return [text.slice(0, slash), Number(text.slice(slash + 1))];
}

function tooBroad(cidr: string): boolean {
  const [addr, len] = cidr.split('/');
  return Number(len) < (addr.includes(':') ? MIN_PREFIX.ipv6 : MIN_PREFIX.ipv4);
}

type Step = SpfCoverage | { covered: false; domain: string; why: string; stop: true } | null;

/** Does `domain`'s record authorise `ip`? Pure over the table. */
export function spfCoverage(table: SpfTable, domain: string, ipText: string): SpfCoverage {
  const ip = parseAddress(ipText);
  const d = lower(domain);
  if (!ip) return { covered: false, domain: d, why: `${ipText} is not an IP address` };
  const r = evaluate(table, d, ip, 0);
  return r ?? { covered: false, domain: d, why: `no mechanism of ${d}'s SPF record names ${ipText}` };
}

function evaluate(table: SpfTable, domain: string, ip: ipaddr.IPv4 | ipaddr.IPv6, depth: number): Step {
  if (depth > MAX_DEPTH) return { covered: false, domain, why: 'SPF includes nested too deep', stop: true };
  if (!table.records.has(domain)) return { covered: false, domain, why: `SPF record of ${domain} unknown (pass --spf ${domain}="v=spf1 …" or --dns)`, stop: true };
  const record = table.records.get(domain);
  if (!record) return { covered: false, domain, why: `${domain} publishes no SPF record`, stop: true };
  let redirect: string | null = null;
  for (const term of parseSpfTerms(record)) {
    if (term.name === 'redirect') { redirect = term.value ? lower(term.value) : null; continue; }
    if (term.name === 'exp' || !term.name) continue;
    const hit = matchTerm(table, domain, term, ip, depth);
    if (hit === null) continue;
    if ('stop' in hit) return hit;
    if (term.qualifier !== '+') return { covered: false, domain, why: `${term.qualifier}${term.name}${term.value ? `:${term.value}` : ''} in ${domain}'s SPF record does not authorise it`, stop: true };
    return hit;
  }
  return redirect ? evaluate(table, redirect, ip, depth + 1) : null;
}

function matchTerm(table: SpfTable, domain: string, term: Term, ip: ipaddr.IPv4 | ipaddr.IPv6, depth: number): Step {
  const mechanism = `${term.name}${term.value ? `:${term.value}` : ''}`;
  const found = (cidr: string): Step => (tooBroad(cidr)
    ? { covered: false, domain, why: `${mechanism} in ${domain}'s SPF record covers ${cidr}: too broad to vouch for one sender`, stop: true }
    : { covered: true, domain, mechanism, cidr });
  switch (term.name) {
    case 'all':
      return term.qualifier === '+' ? { covered: false, domain, why: `+all in ${domain}'s SPF record authorises every address: not evidence`, stop: true } : { covered: false, domain, why: `${term.qualifier}all` };
    case 'ip4':
    case 'ip6': {
      const cidr = term.value ? cidrHolds(ip, term.value, null) : null;
      return cidr ? found(cidr) : null;
    }
    case 'include': {
      if (!term.value) return null;
      const inner = evaluate(table, lower(term.value), ip, depth + 1);
      if (inner === null || (!inner.covered && !('stop' in inner))) return null;
      if ('stop' in inner) return /unknown|nested/.test(inner.why) ? inner : null;
      return { covered: true, domain: inner.domain, mechanism: `include:${term.value} -> ${inner.mechanism}`, cidr: inner.cidr };
    }
    case 'a':
    case 'mx': {
      const target = lower(term.value ?? domain);
      const hosts = term.name === 'a' ? [target] : table.mx.get(target);
      if (!hosts) return { covered: false, domain, why: `${mechanism} in ${domain}'s SPF record needs a DNS lookup (--dns)`, stop: true };
      for (const host of hosts) {
        const addrs = table.addresses.get(lower(host));
        if (!addrs) return { covered: false, domain, why: `${mechanism} in ${domain}'s SPF record needs a DNS lookup (--dns)`, stop: true };
        for (const a of addrs) {
          const cidr = cidrHolds(ip, a, a.includes(':') ? term.prefix6 : term.prefix4);
          if (cidr) return found(cidr);
        }
      }
      return null;
    }
    default:
      // exists, ptr and unknown mechanisms are not evaluated: never evidence, never a guess.
      return null;
  }
}

/** The names a record refers to: include/redirect domains, a/mx targets. */
export function spfReferences(domain: string, record: string): { records: string[]; a: string[]; mx: string[] } {
  const out = { records: [] as string[], a: [] as string[], mx: [] as string[] };
  for (const t of parseSpfTerms(record)) {
    if ((t.name === 'include' || t.name === 'redirect') && t.value) out.records.push(lower(t.value));
    if (t.name === 'a') out.a.push(lower(t.value ?? domain));
    if (t.name === 'mx') out.mx.push(lower(t.value ?? domain));
  }
  return out;
}

/** The `v=spf1` record among a domain's TXT strings (each answer's strings joined, RFC 7208 §3.3). */
export function pickSpfRecord(txt: string[][]): string | null {
  const found = txt.map((parts) => parts.join('')).filter((t) => /^v=spf1(?:\s|$)/i.test(t));
  return found.length === 1 ? found[0] : null;
}
