// The connector that keeps each legitimate source working once Reject Direct Send is enforced
// (SPEC §9): a certificate connector when a verified certificate name is known, else an IP
// connector listing exactly the addresses seen (never a wider range than the traffic needs).
// Printed three ways: EXO PowerShell, mxward CLI, and YAML for `mxward policy import`.
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

function build(name: string, by: 'certificate' | 'ip', sources: SourceStats[], certificateName: string | null,
  accepted: (d: string) => boolean, dmarc: ReadonlyMap<string, DmarcPolicy>): ConnectorRecommendation {
  const senderDomains = senderDomainsOf(sources);
  const ips = by === 'ip' ? [...new Set(sources.map((s) => s.ip).filter((ip): ip is string => ip !== null))].sort() : [];
  const ps = [`New-InboundConnector -Name "${name}" -ConnectorType Partner -SenderDomains ${psList(senderDomains)}`];
  const cli = [`mxward connector add ${shellQuote(name)} --type partner`, ...senderDomains.map((d) => `--sender-domain ${shellQuote(d)}`)];
  if (by === 'certificate' && certificateName) {
    ps.push(`-TlsSenderCertificateName "${certificateName}" -RestrictDomainsToCertificate $true -RequireTls $true`);
    cli.push(`--cert-name ${shellQuote(certificateName)} --restrict-to-cert true --require-tls true`);
  } else {
    ps.push(`-SenderIPAddresses ${psList(ips)} -RestrictDomainsToIPAddresses $true`);
    cli.push(...ips.map((ip) => `--ip ${hostRoute(ip)}`), '--restrict-to-ips true');
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
    name, by, senderDomains, senderIPAddresses: ips.map(hostRoute), certificateName,
    sources: sources.map((s) => s.key), rows: sources.reduce((n, s) => n + s.rows, 0),
    powershell: ps.join(' '), mxward: cli.join(' '), warnings,
  };
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56);
}

/** One connector per certificate name, else one per /24 (or /64) network of legitimate sources. */
export function recommendConnectors(sources: RecommendInput[], accepted: (d: string) => boolean,
  dmarc: ReadonlyMap<string, DmarcPolicy> = new Map()): ConnectorRecommendation[] {
  const wanted = sources.filter((x) => x.label.label === 'likely-legitimate' && x.source.wouldReject > 0 && x.source.key !== '(other sources)');
  const byCert = new Map<string, SourceStats[]>();
  const byNet = new Map<string, SourceStats[]>();
  for (const { source } of wanted) {
    const cert = [...source.certificateNames.counts.keys()][0];
    if (cert) byCert.set(cert, [...(byCert.get(cert) ?? []), source]);
    else if (source.network) byNet.set(source.network, [...(byNet.get(source.network) ?? []), source]);
  }
  const out: ConnectorRecommendation[] = [];
  for (const [cert, list] of [...byCert].sort()) out.push(build(`DirectSend-cert-${safeName(cert)}`, 'certificate', list, cert, accepted, dmarc));
  for (const [net, list] of [...byNet].sort()) out.push(build(`DirectSend-${safeName(net)}`, 'ip', list, null, accepted, dmarc));
  return out;
}

/** YAML with the `connectors:` section of an mxward policy, ready to merge and `policy import`. */
export function recommendationsYaml(recs: ConnectorRecommendation[]): string {
  const connectors: ConnectorSettings[] = recs.map((r) => ({
    name: r.name, type: 'partner', enabled: true, senderDomains: r.senderDomains,
    senderIPAddresses: r.senderIPAddresses, tlsSenderCertificateName: r.certificateName,
    restrictDomainsToIPAddresses: r.by === 'ip', restrictDomainsToCertificate: r.by === 'certificate',
    requireTls: r.by === 'certificate', treatMessagesAsInternal: false,
    comment: `suggested by mxward report: ${r.rows} message(s) from ${r.sources.slice(0, 3).join(', ')}${r.sources.length > 3 ? ', …' : ''}`,
  }));
  return `# Suggested by mxward report. Merge into \`mxward policy export\` output, then \`mxward policy import\`.\n${stringify({ connectors })}`;
}
