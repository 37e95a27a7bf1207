// The connector that keeps each authorised source working once Reject Direct Send is enforced
// (SPEC §9, §11). Only sources labelled `authorised` (positive evidence, nothing against) get
// one. A certificate connector when a verified certificate name is known; else an IP connector
// whose range is what the evidence supports: the administrator's CIDR, the SPF mechanism's CIDR,
// or exactly the addresses seen. Each is named after what it contains. Printed three ways: EXO
// PowerShell, mxward CLI, and YAML for `mxward policy merge`.
import { stringify } from 'yaml';
import type { ConnectorSettings } from '../config/policy-schema.ts';
import type { SourceStats } from './aggregate.ts';
import type { LabelledSource } from './labels.ts';

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface ConnectorRecommendation {
  name: string;
  by: 'certificate' | 'ip';
  senderDomains: string[];
  senderIPAddresses: string[];
  certificateName: string | null;
  sources: string[];
  rows: number;
  /** Why this source may send as us: the evidence each source had. */
  evidence: string[];
  powershell: string;
  mxward: string;
  warnings: string[];
}

export interface RecommendInput {
  source: SourceStats;
  label: LabelledSource;
}

function psList(values: string[]): string {
  return values.map((v) => `"${v.replace(/"/g, '`"')}"`).join(',');
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9._:/@*-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function senderDomainsOf(sources: SourceStats[]): string[] {
  const set = new Set<string>();
  for (const s of sources) {
    for (const d of s.p1Domains.counts.keys()) set.add(d === '<>' ? '*' : d);
    if (s.p1Domains.other > 0) set.add('*');
  }
  return set.has('*') ? ['*'] : [...set].sort();
}

function hostRoute(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

function build(name: string, by: 'certificate' | 'ip', group: RecommendInput[], certificateName: string | null,
  range: string | null, accepted: (d: string) => boolean, dmarc: ReadonlyMap<string, DmarcPolicy>): ConnectorRecommendation {
  const sources = group.map((g) => g.source);
  const senderDomains = senderDomainsOf(sources);
  const seen = [...new Set(sources.map((s) => s.ip).filter((ip): ip is string => ip !== null))].sort().map(hostRoute);
  const ips = by === 'ip' ? (range ? [range] : seen) : [];
  const ps = [`New-InboundConnector -Name "${name}" -ConnectorType Partner -SenderDomains ${psList(senderDomains)}`];
  const cli = [`mxward connector add ${shellQuote(name)} --type partner`, ...senderDomains.map((d) => `--sender-domain ${shellQuote(d)}`)];
  if (by === 'certificate' && certificateName) {
    ps.push(`-TlsSenderCertificateName "${certificateName}" -RestrictDomainsToCertificate $true -RequireTls $true`);
    cli.push(`--cert-name ${shellQuote(certificateName)} --restrict-to-cert true --require-tls true`);
  } else {
    ps.push(`-SenderIPAddresses ${psList(ips)} -RestrictDomainsToIPAddresses $true`);
    cli.push(...ips.map((ip) => `--ip ${ip}`), '--restrict-to-ips true');
  }
  const warnings: string[] = [];
  if (certificateName) {
    const certDomain = certificateName.replace(/^\*\./, '').split('.').slice(-2).join('.');
    const vendorCert = !accepted(certificateName.replace(/^\*\./, '')) && !accepted(certDomain);
    const weak = senderDomains.filter((d) => { const p = dmarc.get(d); return p === undefined || p === 'none'; });
    if (vendorCert && weak.length) {
      warnings.push(`certificate ${certificateName} is the vendor's, likely shared by its other customers, and the DMARC policy of ${weak.join(', ')} is ${weak.every((d) => dmarc.get(d) === 'none') ? 'none' : 'unknown (none assumed; pass --dmarc DOMAIN=POLICY)'}: any of them could send as you through this connector; move DMARC to quarantine or reject (SPEC §9)`);
    }
  }
  if (senderDomains.includes('*')) warnings.push('sender domains * : the source also sends with a null or varied envelope sender; consider narrowing');
  return {
    name, by, senderDomains, senderIPAddresses: ips, certificateName,
    sources: sources.map((s) => s.key), rows: sources.reduce((n, s) => n + s.rows, 0),
    evidence: [...new Set(group.flatMap((g) => g.label.evidenceFor.map((e) => `${g.source.key}: ${e.text}`)))],
    powershell: ps.join(' '), mxward: cli.join(' '), warnings,
  };
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
}

/** Connector names allow 64 characters (config/policy-schema.ts). */
function connectorName(...parts: string[]): string {
  return safeName(['DirectSend', ...parts].join('-')).slice(0, 64).replace(/-+$/, '');
}

/** `203.0.113.10`, `203.0.113.10-203.0.113.77`, `203.0.113.10-and-3-more`: what the list holds. */
function nameForAddresses(ips: string[]): string {
  if (ips.length <= 2) return ips.join('-');
  return `${ips[0]}-and-${ips.length - 1}-more`;
}

/**
 * The range each authorised source's evidence supports, most specific authority first: the
 * administrator's CIDR, then the SPF mechanism's, else null (the addresses seen).
 */
function rangeOf(x: RecommendInput): { range: string | null; name: string | null } {
  const known = x.label.evidenceFor.find((e) => e.kind === 'known-sender');
  if (known) return { range: known.range, name: known.rangeName };
  const spf = x.label.evidenceFor.find((e) => e.kind === 'spf');
  if (spf) return { range: spf.range, name: null };
  return { range: null, name: null };
}

/** One connector per certificate name, per evidence range, else per /24 (/64) of addresses seen. */
export function recommendConnectors(sources: RecommendInput[], accepted: (d: string) => boolean,
  dmarc: ReadonlyMap<string, DmarcPolicy> = new Map()): ConnectorRecommendation[] {
  const wanted = sources.filter((x) => x.label.label === 'authorised' && x.label.evidenceAgainst.length === 0 && x.label.evidenceFor.length > 0
    && x.source.wouldReject > 0 && x.source.key !== '(other sources)' && x.source.ip !== null);
  const byCert = new Map<string, RecommendInput[]>();
  const byRange = new Map<string, { name: string | null; group: RecommendInput[] }>();
  const byNet = new Map<string, RecommendInput[]>();
  for (const x of wanted) {
    const cert = [...x.source.certificateNames.counts.keys()][0];
    const { range, name } = rangeOf(x);
    if (cert) byCert.set(cert, [...(byCert.get(cert) ?? []), x]);
    else if (range) {
      const entry = byRange.get(range) ?? { name, group: [] };
      entry.group.push(x);
      byRange.set(range, entry);
    } else if (x.source.network) byNet.set(x.source.network, [...(byNet.get(x.source.network) ?? []), x]);
  }
  const out: ConnectorRecommendation[] = [];
  for (const [cert, group] of [...byCert].sort()) out.push(build(connectorName('cert', cert), 'certificate', group, cert, null, accepted, dmarc));
  for (const [range, { name, group }] of [...byRange].sort()) {
    out.push(build(connectorName(...(name ? [name] : []), range.replace('/', '-')), 'ip', group, null, range, accepted, dmarc));
  }
  for (const [, group] of [...byNet].sort()) {
    const ips = [...new Set(group.map((g) => g.source.ip!))].sort();
    out.push(build(connectorName(nameForAddresses(ips)), 'ip', group, null, null, accepted, dmarc));
  }
  return out;
}

/** YAML with only the suggested connectors, for `mxward policy merge FILE` (which adds, never removes). */
export function recommendationsYaml(recs: ConnectorRecommendation[]): string {
  const connectors: ConnectorSettings[] = recs.map((r) => ({
    name: r.name, type: 'partner', enabled: true, senderDomains: r.senderDomains,
    senderIPAddresses: r.senderIPAddresses, tlsSenderCertificateName: r.certificateName,
    restrictDomainsToIPAddresses: r.by === 'ip', restrictDomainsToCertificate: r.by === 'certificate',
    requireTls: r.by === 'certificate', treatMessagesAsInternal: false,
    comment: `suggested by mxward report: ${r.rows} message(s) from ${r.sources.slice(0, 3).join(', ')}${r.sources.length > 3 ? ', …' : ''}; evidence: ${r.evidence[0]?.slice(0, 160) ?? 'none'}`,
  }));
  return `# Suggested by mxward report: only these connectors, nothing else of your policy.\n# Add them with \`mxward policy merge FILE\` (keeps your domains and connectors; --dry-run shows the diff).\n${stringify({ connectors })}`;
}
