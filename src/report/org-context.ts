// The organization a report is judged against: accepted domains and connectors, from flags,
// Exchange Online JSON exports, mxward policy YAML, or mxward's own store. A file that cannot be
// used is a ConfigError naming the file (and the line or field where one is known).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, describeZodError } from '../config/errors.ts';
import { connectorSchema, defaultPolicy } from '../config/policy-schema.ts';
import type { AcceptedDomainSettings, ConnectorSettings, PolicyDocument } from '../config/policy-schema.ts';
import { compilePolicy } from '../policy/compile.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { normalizeDomain } from '../policy/domains.ts';
import { decodeExportBytes, parseExoExport } from './import/exo-config.ts';
import type { ExoExport } from './import/exo-config.ts';

export async function readExoExport(file: string): Promise<ExoExport> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
  const parsed = parseExoExport(decodeExportBytes(bytes));
  if (typeof parsed === 'string') throw new ConfigError(file, [parsed]);
  return parsed;
}

export function parseAcceptedDomainFlag(value: string): AcceptedDomainSettings {
  const wildcard = value.trim().startsWith('*.');
  const d = normalizeDomain(wildcard ? value.trim().slice(2) : value);
  if (!d) throw new ConfigError('--accepted-domain', [`not a domain name: ${JSON.stringify(value)}`]);
  return { domain: d, includeSubdomains: wildcard, recipients: [] };
}

/** Accepted domains from a Get-AcceptedDomain export (or a connectors file given by mistake). */
export async function readAcceptedDomains(file: string): Promise<AcceptedDomainSettings[]> {
  const exp = await readExoExport(file);
  if (exp.kind !== 'accepted-domains') throw new ConfigError(file, [`expected a Get-AcceptedDomain export, found ${exp.kind}`]);
  return exp.domains.map((d) => ({ domain: d.domain, includeSubdomains: d.includeSubdomains, recipients: [] }));
}

const connectorList = z.array(connectorSchema);

/**
 * Connectors from a Get-InboundConnector JSON export, or from mxward YAML (a policy document with
 * `connectors:` as `mxward policy export` and `mxward report` write, or a bare list).
 */
export async function readConnectors(file: string): Promise<ConnectorSettings[]> {
  let text: string;
  try {
    text = decodeExportBytes(await readFile(file));
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
  if (/^\s*[[{]/.test(text)) {
    const exp = parseExoExport(text);
    if (typeof exp === 'string') throw new ConfigError(file, [exp]);
    if (exp.kind !== 'inbound-connectors') throw new ConfigError(file, [`expected a Get-InboundConnector export, found ${exp.kind}`]);
    const bad = exp.connectors.flatMap((c) => c.badAddresses.map((a) => `connector "${c.name}": SenderIPAddresses entry ${JSON.stringify(a)} is not an IP, CIDR or range`));
    if (bad.length) throw new ConfigError(file, bad);
    return exp.connectors.map((c) => c.settings);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const linePos = (err as { linePos?: Array<{ line: number }> }).linePos;
    throw new ConfigError(file, [`${linePos?.[0] ? `line ${linePos[0].line}: ` : ''}not valid YAML or JSON`]);
  }
  const list = Array.isArray(doc) ? doc : (doc as { connectors?: unknown } | null)?.connectors;
  const result = connectorList.safeParse(list ?? []);
  if (!result.success) throw new ConfigError(file, describeZodError(result.error).map((m) => `connectors${m.startsWith('[') ? '' : '.'}${m}`));
  return result.data;
}

export interface OrgSources {
  acceptedDomainFlags: string[];
  acceptedDomainFiles: string[];
  connectorFiles: string[];
  /** The store's policy, when one exists; used for what the flags and files do not give. */
  stored: PolicyDocument | null;
}

export async function buildOrgPolicy(src: OrgSources): Promise<CompiledPolicy> {
  const doc = defaultPolicy();
  const domains: AcceptedDomainSettings[] = src.acceptedDomainFlags.map(parseAcceptedDomainFlag);
  for (const f of src.acceptedDomainFiles) domains.push(...(await readAcceptedDomains(f)));
  const connectors: ConnectorSettings[] = [];
  for (const f of src.connectorFiles) connectors.push(...(await readConnectors(f)));
  const seen = new Set<string>();
  doc.acceptedDomains = (domains.length ? domains : (src.stored?.acceptedDomains ?? [])).filter((d) => !seen.has(d.domain) && seen.add(d.domain));
  doc.connectors = src.connectorFiles.length ? connectors : (src.stored?.connectors ?? []);
  return compilePolicy(doc, 0);
}

export async function buildWhatIfPolicy(base: CompiledPolicy, file: string): Promise<CompiledPolicy> {
  const doc: PolicyDocument = { ...base.document, connectors: await readConnectors(file) };
  return compilePolicy(doc, 0);
}
