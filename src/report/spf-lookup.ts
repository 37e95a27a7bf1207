// `--dns`: fills an SpfTable for the domains the report needs, through an injected lookup (the
// gateway's own DnsResolver in the CLI, the loopback test server in tests). Offline records
// given with `--spf` are kept as given and never looked up. Bounded: at most MAX_QUERIES
// questions per report, so a hostile include chain cannot make the report crawl DNS.
import { pickSpfRecord, spfReferences } from './spf-coverage.ts';
import type { SpfTable } from './spf-coverage.ts';

export type SpfDnsLookup = (name: string, rrtype: 'TXT' | 'A' | 'AAAA' | 'MX') => Promise<unknown>;

const MAX_QUERIES = 200;

/** `--spf DOMAIN="v=spf1 …"` values -> the table's records; a string names the bad value. */
export function spfTableFromFlags(values: string[], table: SpfTable): string | null {
  for (const v of values) {
    const eq = v.indexOf('=');
    const domain = eq > 0 ? v.slice(0, eq).trim().toLowerCase().replace(/\.$/, '') : '';
    const record = eq > 0 ? v.slice(eq + 1).trim().replace(/^"|"$/g, '') : '';
    if (!domain || !/^v=spf1(?:\s|$)/i.test(record)) return `--spf: expected DOMAIN="v=spf1 …", got ${JSON.stringify(v.slice(0, 80))}`;
    table.records.set(domain, record);
  }
  return null;
}

async function ask(lookup: SpfDnsLookup, name: string, type: 'TXT' | 'A' | 'AAAA' | 'MX'): Promise<unknown[] | null> {
  try {
    const answer = await lookup(name, type);
    return Array.isArray(answer) ? answer : [];
  } catch (err) {
    const code = (err as { code?: string }).code;
    // No such name or no such record is an answer (nothing); anything else is not known.
    return code === 'ENOTFOUND' || code === 'ENODATA' ? [] : null;
  }
}

/** Looks up the SPF records of `domains` and whatever they refer to; returns the queries made. */
export async function loadSpfRecords(domains: Iterable<string>, table: SpfTable, lookup: SpfDnsLookup): Promise<number> {
  let queries = 0;
  const pending = [...domains].map((d) => d.toLowerCase());
  const hostsWanted = new Set<string>();
  const mxWanted = new Set<string>();
  const visited = new Set<string>();
  while (pending.length && queries < MAX_QUERIES) {
    const domain = pending.shift()!;
    if (visited.has(domain)) continue;
    visited.add(domain);
    if (table.records.has(domain)) {
      const known = table.records.get(domain);
      if (known) queue(domain, known);
      continue;
    }
    queries++;
    const txt = await ask(lookup, domain, 'TXT');
    if (txt === null) continue;
    const record = pickSpfRecord(txt.map((t) => (Array.isArray(t) ? t.map(String) : [String(t)])));
    table.records.set(domain, record);
    if (record) queue(domain, record);
  }
  for (const domain of mxWanted) {
    if (table.mx.has(domain) || queries >= MAX_QUERIES) continue;
    queries++;
    const mx = await ask(lookup, domain, 'MX');
    if (mx === null) continue;
    const hosts = mx.map((m) => String((m as { exchange?: string }).exchange ?? '')).filter(Boolean).map((h) => h.toLowerCase());
    table.mx.set(domain, hosts);
    for (const h of hosts) hostsWanted.add(h);
  }
  for (const host of hostsWanted) {
    if (table.addresses.has(host) || queries >= MAX_QUERIES) continue;
    queries += 2;
    const a = await ask(lookup, host, 'A');
    const aaaa = await ask(lookup, host, 'AAAA');
    if (a === null && aaaa === null) continue;
    table.addresses.set(host, [...(a ?? []), ...(aaaa ?? [])].map(String));
  }
  return queries;

  function queue(domain: string, record: string): void {
    const refs = spfReferences(domain, record);
    for (const r of refs.records) if (!visited.has(r)) pending.push(r);
    for (const h of refs.a) hostsWanted.add(h);
    for (const m of refs.mx) mxWanted.add(m);
  }
}
