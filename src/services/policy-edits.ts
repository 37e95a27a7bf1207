// Single edits of the organization policy (issue 13): the org switches, accepted domains and
// connectors, and `connector test`. One meaning for the CLI and the API: they parse and print,
// this decides and writes. Every write is the store's compare-and-set with its audit entry
// (store/policy-changes.ts) under the caller's actor; a refusal is a ServiceError, so nothing
// half-done is ever written.
import type { AcceptedDomainSettings, ConnectorSettings, PolicyDocument } from '../config/policy-schema.ts';
import { policySchema } from '../config/policy-schema.ts';
import { compilePolicy } from '../policy/compile.ts';
import { matchConnector } from '../policy/connectors.ts';
import { domainPatternMatches, normalizeAddress, normalizeDomain, parseAddress } from '../policy/domains.ts';
import { parseAddressStrict } from '../policy/ip-syntax.ts';
import { changePolicy } from '../store/policy-changes.ts';
import type { PolicyStore, StoredPolicy } from '../store/ports.ts';
import { ServiceError, validationError } from './service-error.ts';

/**
 * Validates the edited document inside the compare-and-set, so a bad field is a ServiceError
 * with its path (`connectors[2].senderIPAddresses[0]`) instead of a failed write.
 */
function validated(draft: PolicyDocument): PolicyDocument {
  const result = policySchema.safeParse(draft);
  if (!result.success) throw validationError('policy', result.error);
  return result.data;
}

function edit(store: PolicyStore, actor: string, action: string, mutate: (doc: PolicyDocument) => PolicyDocument): Promise<StoredPolicy> {
  return changePolicy(store, actor, action, (doc) => validated(mutate(doc)));
}

// ---- org switches ------------------------------------------------------------------------------

/** The organization-wide switches: everything in the policy that is not one of its two lists. */
export type OrgSettings = Omit<PolicyDocument, 'acceptedDomains' | 'connectors'>;
export type OrgView = OrgSettings & { policyVersion: number };

function orgView({ document, version }: StoredPolicy): OrgView {
  const { acceptedDomains: _domains, connectors: _connectors, ...settings } = document;
  return { ...settings, policyVersion: version };
}

export async function readOrg(store: PolicyStore): Promise<OrgView> {
  return orgView(await store.readPolicy());
}

/** Changes the switches given and keeps the others; refused when none is given. */
export async function setOrg(store: PolicyStore, changes: Partial<OrgSettings>, actor: string): Promise<OrgView> {
  // The lists have their own edits (domains, connectors): never replaced through the switches.
  const given = Object.fromEntries(Object.entries(changes).filter(([k, v]) => v !== undefined && k !== 'acceptedDomains' && k !== 'connectors'));
  if (Object.keys(given).length === 0) throw new ServiceError('validation_failed', 'nothing to change');
  return orgView(await edit(store, actor, 'org.set', (doc) => ({ ...doc, ...given })));
}

// ---- accepted domains --------------------------------------------------------------------------

export async function listDomains(store: PolicyStore): Promise<AcceptedDomainSettings[]> {
  return (await store.readPolicy()).document.acceptedDomains;
}

/** A domain as the RCPT comparison reads it (folded, no trailing dot, punycode); refused if none. */
export function domainOf(raw: string): string {
  const domain = normalizeDomain(raw);
  if (!domain) throw new ServiceError('validation_failed', `not a domain name: ${JSON.stringify(raw)}`, 'domain');
  return domain;
}

/**
 * The recipient directory of one domain, normalised like the RCPT comparison (domain folded).
 * An entry outside the domain could never match a recipient, so it is a typo: refuse it.
 */
function directoryFor(domain: string, includeSubdomains: boolean, raw: readonly string[]): string[] {
  return raw.map((address, i) => {
    const parsed = parseAddress(address);
    const covered = parsed.domain !== null && (parsed.domain === domain || (includeSubdomains && domainPatternMatches(`*.${domain}`, parsed.domain)));
    if (!covered || !parsed.localPart || parsed.relayHack) {
      throw new ServiceError('validation_failed', `${JSON.stringify(address)}: not an address in ${domain}`, `recipients[${i}]`);
    }
    return normalizeAddress(address);
  });
}

export interface NewAcceptedDomain { domain: string; includeSubdomains?: boolean; recipients?: readonly string[] }

export async function addDomain(store: PolicyStore, input: NewAcceptedDomain, actor: string): Promise<AcceptedDomainSettings> {
  const domain = domainOf(input.domain);
  const includeSubdomains = input.includeSubdomains ?? false;
  const added: AcceptedDomainSettings = { domain, includeSubdomains, recipients: directoryFor(domain, includeSubdomains, input.recipients ?? []) };
  await edit(store, actor, 'domain.add', (doc) => {
    if (doc.acceptedDomains.some((d) => d.domain === domain)) throw new ServiceError('conflict', `${domain} is already an accepted domain`, 'domain');
    doc.acceptedDomains.push(added);
    return doc;
  });
  return added;
}

export async function removeDomain(store: PolicyStore, raw: string, actor: string): Promise<string> {
  const domain = domainOf(raw);
  await edit(store, actor, 'domain.remove', (doc) => {
    const before = doc.acceptedDomains.length;
    doc.acceptedDomains = doc.acceptedDomains.filter((d) => d.domain !== domain);
    if (doc.acceptedDomains.length === before) throw new ServiceError('not_found', `${domain} is not an accepted domain`, 'domain');
    return doc;
  });
  return domain;
}

// ---- connectors --------------------------------------------------------------------------------

/** Connector names compare case-insensitively, as `connector set partnernet` always has. */
const named = (name: string) => (c: ConnectorSettings): boolean => c.name.toLowerCase() === name.toLowerCase();

export async function listConnectors(store: PolicyStore): Promise<ConnectorSettings[]> {
  return (await store.readPolicy()).document.connectors;
}

export async function getConnector(store: PolicyStore, name: string): Promise<ConnectorSettings> {
  const found = (await listConnectors(store)).find(named(name));
  if (!found) throw new ServiceError('not_found', `no connector named "${name}"`, 'name');
  return found;
}

/** The connector as the policy stores it, after the schema's defaults and normalisation. */
function savedConnector(saved: StoredPolicy, name: string): ConnectorSettings {
  const found = saved.document.connectors.find(named(name));
  if (!found) throw new Error(`connector ${name} missing right after it was written`);
  return found;
}

/** Settings not given take the schema's defaults (sender domain `*`, enabled, …). */
export async function addConnector(store: PolicyStore, settings: Partial<ConnectorSettings> & { name: string }, actor: string): Promise<ConnectorSettings> {
  const saved = await edit(store, actor, 'connector.add', (doc) => {
    if (doc.connectors.some(named(settings.name))) throw new ServiceError('conflict', `a connector named "${settings.name}" already exists`, 'name');
    doc.connectors.push(settings as ConnectorSettings);
    return doc;
  });
  return savedConnector(saved, settings.name);
}

/** Replaces the settings given (a list given replaces that list) and keeps the others. */
export async function updateConnector(store: PolicyStore, name: string, changes: Partial<ConnectorSettings>, actor: string): Promise<ConnectorSettings> {
  const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  if (Object.keys(given).length === 0) throw new ServiceError('validation_failed', 'nothing to change');
  // A rename through `set` would break the case-insensitive lookup that finds it again.
  const newName = typeof given.name === 'string' ? given.name : name;
  const saved = await edit(store, actor, 'connector.set', (doc) => {
    const i = doc.connectors.findIndex(named(name));
    if (i < 0) throw new ServiceError('not_found', `no connector named "${name}"`, 'name');
    if (newName.toLowerCase() !== name.toLowerCase() && doc.connectors.some(named(newName))) {
      throw new ServiceError('conflict', `a connector named "${newName}" already exists`, 'name');
    }
    doc.connectors[i] = { ...doc.connectors[i], ...given };
    return doc;
  });
  return savedConnector(saved, newName);
}

export async function removeConnector(store: PolicyStore, name: string, actor: string): Promise<void> {
  await edit(store, actor, 'connector.remove', (doc) => {
    if (!doc.connectors.some(named(name))) throw new ServiceError('not_found', `no connector named "${name}"`, 'name');
    doc.connectors = doc.connectors.filter((c) => !named(name)(c));
    return doc;
  });
}

// ---- connector test ----------------------------------------------------------------------------

export interface ConnectorProbe {
  ip: string;
  /** A verified, currently valid certificate presenting exactly this name (implies TLS). */
  certName?: string;
  certFingerprints?: readonly string[];
  /** An encrypted session without a client certificate. */
  tls?: boolean;
  /** MAIL FROM address or just its domain. */
  sender?: string | null;
}

export interface ConnectorTestResult {
  result: 'matched' | 'restricted' | 'requireTls' | 'none';
  connector: string | null;
  by: 'certificate' | 'ip' | null;
  reasons: string[];
  /** Stored ranges the strict rules make match nothing (entries older than those rules). */
  unusableRanges: Array<{ connector: string; range: string; reason: string }>;
  policyVersion: number;
}

/** Which connector, if any, a source would match under the stored policy, and why. */
export async function testConnector(store: PolicyStore, probe: ConnectorProbe): Promise<ConnectorTestResult> {
  // The same strict reading as the policy (no octal, hex or shortened IPv4): 999.1.1.1 or
  // 010.1.2.3 must not quietly test some other address.
  const parsed = parseAddressStrict(probe.ip.replace(/^\[|\]$/g, ''));
  if (!parsed.ok) throw new ServiceError('validation_failed', `not an IP address: ${JSON.stringify(probe.ip)}: ${parsed.reason}`, 'ip');
  const { document, version } = await store.readPolicy();
  const policy = compilePolicy(document, version);
  const sender = probe.sender ?? null;
  const p1Domain = sender === null ? null : parseAddress(sender.includes('@') ? sender : `x@${sender}`).domain;
  const now = Date.now();
  const certName = probe.certName;
  const certificate = certName || probe.certFingerprints?.length ? {
    subjectCN: certName ?? null, dnsNames: certName ? [certName] : [], verified: true, verifyError: null,
    validFrom: new Date(now - 86_400_000).toISOString(), validTo: new Date(now + 86_400_000).toISOString(),
    fingerprint256: probe.certFingerprints?.[0] ?? 'none given',
  } : null;
  const match = matchConnector(policy, { remoteIp: probe.ip, tlsActive: certificate !== null || probe.tls === true, certificate, p1Domain, nowMs: now });
  return {
    result: match.kind,
    connector: match.kind === 'none' ? null : match.connector.settings.name,
    by: match.kind === 'matched' ? match.by : null,
    reasons: match.reasons,
    unusableRanges: policy.connectors.flatMap((c) => c.refusedRanges.map((r) => ({ connector: c.settings.name, range: r.text, reason: r.reason }))),
    policyVersion: version,
  };
}
