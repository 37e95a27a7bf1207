// mxward's own DMARC evaluation (RFC 7489 §6.6), used where mailauth declines to give a result
// while there is a domain to judge (issue 19: "DMARC decided, never skipped"): an author mailauth
// could not parse, the domains an ambiguous From names, and a source that could not be
// determined behind trusted hops (SPF then proves nothing). Records come through the message's
// lookup, so answers prefetched for the author domain are reused.
import type { AuthResultValue } from '../domain/types.ts';
import type { DnsLookup } from './resolver.ts';
import { organizationalDomain, relaxedAligned, strictAligned } from './org-domain.ts';

export type Policy = 'none' | 'quarantine' | 'reject';

export type PolicyDiscovery =
  | { kind: 'record'; recordDomain: string; policy: Policy; adkimStrict: boolean; aspfStrict: boolean; pct: number }
  | { kind: 'none' }
  | { kind: 'temperror'; detail: string };

const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA']);

function parseRecord(text: string): Map<string, string> | null {
  if (!/^v\s*=\s*DMARC1\s*(;|$)/i.test(text)) return null;
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim().toLowerCase());
  }
  return tags;
}

async function fetchRecord(name: string, lookup: DnsLookup): Promise<Map<string, string> | null> {
  const answer = await lookup(`_dmarc.${name}`, 'TXT').catch((err: { code?: string }) => {
    if (NO_RECORD.has(String(err?.code))) return [];
    throw err;
  });
  const records = (Array.isArray(answer) ? answer : []).map((r: unknown) => (Array.isArray(r) ? r.join('') : String(r)).trim()).map(parseRecord).filter((r): r is Map<string, string> => r !== null);
  // RFC 7489 §6.6.3: several records are no record.
  return records.length === 1 ? records[0] : null;
}

function asPolicy(v: string | undefined): Policy | null {
  return v === 'none' || v === 'quarantine' || v === 'reject' ? v : null;
}

/** Policy discovery (RFC 7489 §6.6.3): the author domain's record, else its Organizational Domain's. */
export async function discoverPolicy(domain: string, lookup: DnsLookup): Promise<PolicyDiscovery> {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const org = organizationalDomain(d);
  try {
    for (const name of d === org ? [d] : [d, org]) {
      const tags = await fetchRecord(name, lookup);
      if (!tags) continue;
      // A record without a valid p= is treated as p=none (RFC 7489 §6.6.3 step 6, with rua present).
      const p = asPolicy(tags.get('p')) ?? 'none';
      const policy = name === d ? p : asPolicy(tags.get('sp')) ?? p;
      const pct = Number.parseInt(tags.get('pct') ?? '100', 10);
      return { kind: 'record', recordDomain: name, policy, adkimStrict: tags.get('adkim') === 's', aspfStrict: tags.get('aspf') === 's', pct: Number.isFinite(pct) ? Math.max(0, Math.min(100, pct)) : 100 };
    }
    return { kind: 'none' };
  } catch (err) {
    return { kind: 'temperror', detail: String((err as { code?: string })?.code ?? err) };
  }
}

export interface Identifiers {
  spf: { result: AuthResultValue; domain: string | null };
  dkim: Array<{ result: AuthResultValue; domain: string; partial?: boolean }>;
}

/** DMARC's result for a domain with its discovered policy (RFC 7489 §4.2): an aligned pass, or fail. */
export function evaluateDmarc(domain: string, discovery: PolicyDiscovery, ids: Identifiers): { result: AuthResultValue; policy: Policy | null } {
  if (discovery.kind === 'temperror') return { result: 'temperror', policy: null };
  const aspfStrict = discovery.kind === 'record' && discovery.aspfStrict;
  const adkimStrict = discovery.kind === 'record' && discovery.adkimStrict;
  const spfAligned = ids.spf.result === 'pass' && !!ids.spf.domain && (aspfStrict ? strictAligned : relaxedAligned)(ids.spf.domain, domain);
  const dkimAligned = ids.dkim.some((d) => d.result === 'pass' && !d.partial && (adkimStrict ? strictAligned : relaxedAligned)(d.domain, domain));
  if (discovery.kind === 'none') return { result: 'none', policy: null };
  return { result: spfAligned || dkimAligned ? 'pass' : 'fail', policy: discovery.policy };
}

const STRICTNESS: Record<Policy, number> = { none: 0, quarantine: 1, reject: 2 };

/** The strictest policy among several domains' discoveries (for an ambiguous author). */
export function strictestPolicy(discoveries: PolicyDiscovery[]): Policy | null {
  let best: Policy | null = null;
  for (const d of discoveries) {
    if (d.kind === 'record' && (best === null || STRICTNESS[d.policy] > STRICTNESS[best])) best = d.policy;
  }
  return best;
}
