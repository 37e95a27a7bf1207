// `Get-OrganizationConfig | ConvertTo-Json`, `Get-InboundConnector | ConvertTo-Json` and
// `Get-AcceptedDomain | ConvertTo-Json` (SPEC §8 last bullet), read for the audit and as the
// organization context of a report. Detected by content: ConvertTo-Json writes a bare object for
// one item and an array for several, and Windows PowerShell writes UTF-16LE with a BOM.
import ipaddr from 'ipaddr.js';
import type { ConnectorSettings } from '../../config/policy-schema.ts';
import { normalizeDomain } from '../../policy/domains.ts';
import { sniffEncoding } from './text-input.ts';

export interface ExoConnector {
  /** The name as EXO knows it (may hold characters mxward's own names do not allow). */
  name: string;
  settings: ConnectorSettings;
  /** Entries of SenderIPAddresses that could not be read, with why. */
  badAddresses: string[];
}

export interface ExoAcceptedDomain {
  domain: string;
  includeSubdomains: boolean;
  domainType: string;
}

export interface ExoOrgConfig {
  name: string | null;
  /** null: the export predates the setting (or was filtered), which is not the same as false. */
  rejectDirectSend: boolean | null;
}

export type ExoExport =
  | { kind: 'organization-config'; config: ExoOrgConfig }
  | { kind: 'inbound-connectors'; connectors: ExoConnector[] }
  | { kind: 'accepted-domains'; domains: ExoAcceptedDomain[] };

export function decodeExportBytes(bytes: Uint8Array): string {
  return new TextDecoder(sniffEncoding(bytes)).decode(bytes).replace(/^\uFEFF/, '');
}

type Json = Record<string, unknown>;

function asList(value: unknown): Json[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v));
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

function bool(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return null;
}

/** Multi-valued properties arrive as arrays, single strings, or `{ value: [...] }` wrappers. */
function strings(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (typeof v === 'object') {
    const o = v as Json;
    if ('value' in o) return strings(o.value);
    // An IPRange object serialized by ConvertTo-Json.
    if (typeof o.Expression === 'string') return [o.Expression];
    if (typeof o.LowerBound === 'string' && typeof o.UpperBound === 'string') return [`${o.LowerBound}-${o.UpperBound}`];
    return [];
  }
  const s = str(v);
  return s === null ? [] : s.split(/[,\s]+/).filter(Boolean);
}

/** EXO address spaces look like `smtp:contoso.com;1` or just `contoso.com`. */
function senderDomainOf(entry: string): string | null {
  const bare = entry.replace(/^smtp:/i, '').replace(/;\d+$/, '').trim();
  if (bare === '*') return '*';
  const wildcard = bare.startsWith('*.');
  const d = normalizeDomain(wildcard ? bare.slice(2) : bare);
  return d ? (wildcard ? `*.${d}` : d) : null;
}

/** `a.b.c.d-e.f.g.h` (EXO's range form) -> the smallest list of CIDR blocks covering it. */
export function rangeToCidrs(lower: string, upper: string): string[] | null {
  let lo: number;
  let hi: number;
  try {
    const a = ipaddr.IPv4.parse(lower).toByteArray();
    const b = ipaddr.IPv4.parse(upper).toByteArray();
    lo = ((a[0] << 24) >>> 0) + (a[1] << 16) + (a[2] << 8) + a[3];
    hi = ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
  } catch {
    return null;
  }
  if (lo > hi) return null;
  const out: string[] = [];
  while (lo <= hi) {
    let bits = 32;
    while (bits > 0) {
      const size = 2 ** (33 - bits);
      if (lo % size !== 0 || lo + size - 1 > hi) break;
      bits--;
    }
    const size = 2 ** (32 - bits);
    out.push(`${[lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255].join('.')}/${bits}`);
    lo += size;
  }
  return out;
}

function normalizeAddressEntry(entry: string): string[] | null {
  const range = /^([0-9.]+)\s*-\s*([0-9.]+)$/.exec(entry);
  if (range) return rangeToCidrs(range[1], range[2]);
  try {
    if (entry.includes('/')) ipaddr.parseCIDR(entry);
    else ipaddr.parse(entry);
    return [entry];
  } catch {
    return null;
  }
}

function connectorFrom(o: Json, index: number): ExoConnector {
  const name = str(o.Name) ?? str(o.Identity) ?? `connector ${index + 1}`;
  const badAddresses: string[] = [];
  const senderIPAddresses: string[] = [];
  for (const entry of strings(o.SenderIPAddresses)) {
    const cidrs = normalizeAddressEntry(entry);
    if (cidrs) senderIPAddresses.push(...cidrs);
    else badAddresses.push(entry);
  }
  const domains = strings(o.SenderDomains).map(senderDomainOf).filter((d): d is string => d !== null);
  const type = String(o.ConnectorType ?? '').toLowerCase() === 'onpremises' ? 'onPremises' : 'partner';
  const settings: ConnectorSettings = {
    name,
    type,
    enabled: bool(o.Enabled) ?? true,
    senderDomains: domains.length ? domains : ['*'],
    senderIPAddresses,
    tlsSenderCertificateName: str(o.TlsSenderCertificateName) || null,
    restrictDomainsToIPAddresses: bool(o.RestrictDomainsToIPAddresses) ?? false,
    restrictDomainsToCertificate: bool(o.RestrictDomainsToCertificate) ?? false,
    requireTls: bool(o.RequireTls) ?? false,
    treatMessagesAsInternal: bool(o.TreatMessagesAsInternal) ?? false,
    comment: str(o.Comment) ?? '',
  };
  return { name, settings, badAddresses };
}

/** Which export a parsed JSON document is, or a sentence saying why it is none of them. */
export function classifyExoJson(doc: unknown): ExoExport | string {
  const items = asList(doc);
  if (items.length === 0) return 'empty JSON: expected an object or an array of objects';
  const first = items[0];
  if ('ConnectorType' in first || 'SenderIPAddresses' in first || 'TlsSenderCertificateName' in first) {
    return { kind: 'inbound-connectors', connectors: items.map(connectorFrom) };
  }
  if ('DomainName' in first && ('DomainType' in first || 'MatchSubDomains' in first)) {
    const domains: ExoAcceptedDomain[] = [];
    for (const o of items) {
      const d = normalizeDomain(str(o.DomainName) ?? '');
      if (d) domains.push({ domain: d, includeSubdomains: bool(o.MatchSubDomains) ?? false, domainType: str(o.DomainType) ?? 'Authoritative' });
    }
    return { kind: 'accepted-domains', domains };
  }
  if ('RejectDirectSend' in first || 'IsDehydrated' in first || 'OrganizationId' in first || 'MailTipsAllTipsEnabled' in first) {
    return { kind: 'organization-config', config: { name: str(first.Name) ?? str(first.DisplayName), rejectDirectSend: bool(first.RejectDirectSend) } };
  }
  return 'not a Get-OrganizationConfig, Get-InboundConnector or Get-AcceptedDomain export (no ConnectorType, DomainName or RejectDirectSend property)';
}

/** Text -> export; JSON syntax errors are reported with their line. */
export function parseExoExport(text: string): ExoExport | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const pos = /position (\d+)/.exec(message);
    // V8 names a position for most errors; a truncated file ends "at the end", i.e. its last line.
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : /end of JSON input/.test(message) ? text.trimEnd().split('\n').length : null;
    return `${line ? `line ${line}: ` : ''}not valid JSON (${message.replace(/^.*?: /, '').split('\n')[0]})`;
  }
  return classifyExoJson(doc);
}
