// Connector hygiene shared by the Exchange Online and mxward families: the same mistakes weaken
// both (SPEC §1 "a connector that matches only on sender domain never authenticates anything",
// §9 on shared vendor certificates).
import type { ConnectorSettings } from '../config/policy-schema.ts';
import type { Finding } from './types.ts';
import { coversEverything, effectiveRange, parseCidrStrict } from '../policy/ip-syntax.ts';

/** Widest range we accept without a finding: a /24 (IPv4) or /48 (IPv6) is one site or vendor pool. */
const MAX_V4_BITS = 24;
const MAX_V6_BITS = 48;

export type RangeWidth = { ok: true; v6: boolean; bits: number; everything: string | null } | { ok: false; reason: string };

/**
 * How wide an entry really is, read as strictly as the policy reads it (policy/ip-syntax.ts):
 * `::ffff:0:0/96` is IPv4 /0, not IPv6 /96; `010.1.2.0/24` is no address at all. A stored
 * document may predate those rules, so the audit must not trust the text's slash.
 */
export function rangeWidth(cidr: string): RangeWidth {
  const parsed = parseCidrStrict(cidr);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const range = effectiveRange(parsed.address, parsed.bits);
  return { ok: true, v6: range.address.kind() === 'ipv6', bits: range.bits, everything: coversEverything(range) };
}

export function tooWide(cidr: string): boolean {
  const w = rangeWidth(cidr);
  if (!w.ok) return false;
  return w.everything !== null || (w.v6 ? w.bits < MAX_V6_BITS : w.bits < MAX_V4_BITS);
}

export function restrictionFindings(connectors: ConnectorSettings[], where: string): Finding[] {
  const out: Finding[] = [];
  for (const c of connectors.filter((x) => x.type === 'partner' && x.enabled)) {
    if (c.senderIPAddresses.length === 0 && !c.tlsSenderCertificateName && !c.certificateFingerprints?.length) {
      out.push({ status: 'fail', detail: `${where} partner connector "${c.name}" has neither sender IPs nor a certificate name: it authenticates nothing`, remedy: 'add the partner\'s IPs or its certificate name, or remove the connector' });
    } else if (!c.restrictDomainsToIPAddresses && !c.restrictDomainsToCertificate) {
      out.push({ status: 'warn', detail: `${where} partner connector "${c.name}" does not restrict its sender domains to its IPs or certificate`, remedy: 'set RestrictDomainsToIPAddresses (or RestrictDomainsToCertificate) so others cannot send as those domains' });
    }
  }
  return out.length ? out : [{ status: 'pass', detail: `every enabled ${where} partner connector is restricted to IPs or a certificate` }];
}

export function sharedCertificateFindings(connectors: ConnectorSettings[], where: string, ours: (d: string) => boolean): Finding[] {
  const out: Finding[] = [];
  for (const c of connectors.filter((x) => x.enabled && x.tlsSenderCertificateName)) {
    const name = c.tlsSenderCertificateName!.replace(/^\*\./, '');
    if (c.senderDomains.includes('*') && !ours(name)) {
      out.push({ status: 'fail', detail: `${where} connector "${c.name}" accepts any sender domain (*) on certificate ${c.tlsSenderCertificateName}, which the vendor shares with its other customers`, remedy: 'list your own domains in SenderDomains, and keep their DMARC policy at quarantine or reject' });
    }
  }
  return out.length ? out : [{ status: 'pass', detail: `no ${where} certificate connector accepts every sender domain on a vendor certificate` }];
}

export function requireTlsFindings(connectors: ConnectorSettings[], where: string): Finding[] {
  const out: Finding[] = connectors.filter((c) => c.type === 'partner' && c.enabled && !c.requireTls).map((c) => ({
    status: 'warn' as const,
    detail: `${where} partner connector "${c.name}" does not require TLS`,
    remedy: 'set RequireTls $true (the partner\'s mail then cannot be read or altered in transit)',
  }));
  return out.length ? out : [{ status: 'pass', detail: `every enabled ${where} partner connector requires TLS` }];
}

export function rangeFindings(connectors: ConnectorSettings[], where: string): Finding[] {
  const out: Finding[] = [];
  for (const c of connectors.filter((x) => x.enabled)) {
    for (const r of c.senderIPAddresses) {
      const w = rangeWidth(r);
      if (!w.ok) {
        out.push({
          status: 'fail',
          detail: `${where} connector "${c.name}" lists ${JSON.stringify(r)}, which is not a strict IP address or CIDR (${w.reason}); mxward matches nothing with it, other software may read it as another address`,
          remedy: 'write the address in plain decimal (192.168.1.8, not 192.168.001.010) or as ::ffff:a.b.c.d',
        });
      } else if (tooWide(r)) {
        out.push({
          status: 'fail',
          detail: `${where} connector "${c.name}" trusts ${r}${w.everything ? ` (the whole Internet): it ${w.everything},` : ':'} wider than one site needs`,
          remedy: 'list the sender\'s actual addresses (mxward report suggests them from your traffic)',
        });
      }
    }
  }
  return out.length ? out : [{ status: 'pass', detail: `no ${where} connector trusts a range wider than /${MAX_V4_BITS} (IPv4) or /${MAX_V6_BITS} (IPv6)` }];
}
