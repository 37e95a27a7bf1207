// Whole-policy changes an operator makes (issue 12): import, merge, history and rollback. One
// service for the CLI and the API: they parse and print, this decides and writes. Every write
// is a compare-and-set on the version with its audit entry, so a change made meanwhile (another
// CLI, the API) is never overwritten silently: the diff is taken again against the newer policy.
// Nothing is removed unless the operator asked for it: an import that would remove accepted
// domains or connectors is refused without `replace`, and a merge only adds.
import { stringify } from 'yaml';
import { z } from 'zod';
import type { PolicyDocument } from '../config/policy-schema.ts';
import { acceptedDomainSchema, connectorSchema, defaultPolicy, policySchema } from '../config/policy-schema.ts';
import { parseOrThrow } from '../config/errors.ts';
import type { PolicyStore } from '../store/ports.ts';
import { diffPolicies, hasRemovals, isEmptyDiff } from './policy-diff.ts';
import type { PolicyDiff } from './policy-diff.ts';

export type PolicyChangeResult =
  | { kind: 'written'; version: number; previousVersion: number; diff: PolicyDiff }
  /** `refusal`: why the change itself would be refused (a dry run still shows the diff). */
  | { kind: 'dry-run'; version: number; diff: PolicyDiff; refusal: string | null }
  | { kind: 'refused'; version: number; diff: PolicyDiff; reason: string }
  /** The policy already is what was asked for: no new version. */
  | { kind: 'unchanged'; version: number; diff: PolicyDiff };

export interface ChangeOptions { actor: string; dryRun: boolean }

export interface PolicyExport { version: number; document: PolicyDocument; yaml: string }

/** The policy as `policy export` writes it: YAML with the version in its first line, and as data. */
export async function exportPolicy(store: PolicyStore): Promise<PolicyExport> {
  const { document, version } = await store.readPolicy();
  return { version, document, yaml: `# mxward policy, version ${version}\n${stringify(document)}` };
}

/** What `policy merge` reads: connectors and accepted domains to add, nothing else. */
export const policyFragmentSchema = z.object({
  connectors: z.array(connectorSchema).default([]),
  acceptedDomains: z.array(acceptedDomainSchema).default([]),
}).strict();
export type PolicyFragment = z.output<typeof policyFragmentSchema>;

/** Far more than two operators typing at once can cause; a loop beyond it is a bug. */
const MAX_ATTEMPTS = 50;

/**
 * Read, decide, write if the version is unchanged, else decide again on the newer policy.
 * `decide` returns the next document, or a refusal reason (nothing is written then).
 */
async function changeWithDiff(store: PolicyStore, action: string, opts: ChangeOptions,
  decide: (current: PolicyDocument) => { next: PolicyDocument } | { refused: string; next: PolicyDocument }): Promise<PolicyChangeResult> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const { document, version } = await store.readPolicy();
    const decision = decide(structuredClone(document));
    const next = parseOrThrow(policySchema, decision.next, 'policy');
    const diff = diffPolicies(document, next);
    const refusal = 'refused' in decision ? decision.refused : null;
    if (opts.dryRun) return { kind: 'dry-run', version, diff, refusal };
    if (refusal !== null) return { kind: 'refused', version, diff, reason: refusal };
    if (isEmptyDiff(diff) && !action.startsWith('policy.rollback')) return { kind: 'unchanged', version, diff };
    const saved = await store.writePolicyIfVersion(version, next, opts.actor, action);
    if (saved) return { kind: 'written', version: saved.version, previousVersion: version, diff };
  }
  throw new Error(`policy change ${action}: the policy kept changing underneath (${MAX_ATTEMPTS} attempts)`);
}

/** The whole document replaces the policy; removals only with `replace`. */
export function importPolicyDocument(store: PolicyStore, next: PolicyDocument, opts: ChangeOptions & { replace: boolean }): Promise<PolicyChangeResult> {
  return changeWithDiff(store, opts.replace ? 'policy.import.replace' : 'policy.import', opts, (current) => {
    const diff = diffPolicies(current, next);
    if (hasRemovals(diff) && !opts.replace) {
      const what = [...diff.domains.removed.map((d) => `accepted domain ${d}`), ...diff.connectors.removed.map((c) => `connector ${c}`)];
      return { next, refused: `the file would remove ${what.join(', ')}; import replaces the whole policy: add what is missing to the file, use "mxward policy merge FILE" to only add, or pass --replace to remove them` };
    }
    return { next };
  });
}

/** Adds the fragment's connectors and domains; never changes or removes an existing one. */
export function mergePolicyFragment(store: PolicyStore, fragment: PolicyFragment, opts: ChangeOptions): Promise<PolicyChangeResult> {
  return changeWithDiff(store, 'policy.merge', opts, (current) => {
    const conflicts: string[] = [];
    const next = structuredClone(current);
    for (const c of fragment.connectors) {
      const have = current.connectors.find((x) => x.name === c.name);
      if (!have) next.connectors.push(c);
      else if (JSON.stringify(have) !== JSON.stringify(c)) conflicts.push(`connector ${c.name} exists with other settings`);
    }
    for (const d of fragment.acceptedDomains) {
      const have = current.acceptedDomains.find((x) => x.domain.toLowerCase() === d.domain.toLowerCase());
      if (!have) next.acceptedDomains.push(d);
      else if (JSON.stringify(have) !== JSON.stringify(d)) conflicts.push(`accepted domain ${d.domain} exists with other settings`);
    }
    if (conflicts.length) return { next, refused: `${conflicts.join('; ')}: merge only adds; rename it in the file, or change it with "mxward connector set" / "mxward domain"` };
    return { next };
  });
}

export interface PolicyVersion {
  version: number;
  time: string;
  actor: string;
  action: string;
  document: PolicyDocument;
}

/** An audit entry's `new` that is a whole policy document (what every policy write records). */
function isPolicyDocument(value: unknown): value is PolicyDocument {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && Array.isArray(v.acceptedDomains) && Array.isArray(v.connectors) && 'rejectDirectSend' in v;
}

/** Audit entries read at most when looking for policy versions. */
const MAX_AUDIT_SCAN = 100_000;

/**
 * The newest `wanted` policy versions, newest first. Every policy write records the whole new
 * document in the same transaction as the version bump, so the newest such entry is the current
 * version and each older one the version before it. The audit log also holds user and other
 * entries: read a window that grows until it has enough versions, instead of the whole log on
 * every call (the console asks for the history often; SQLite reads block the event loop).
 */
async function recentVersions(store: PolicyStore, wanted: number): Promise<PolicyVersion[]> {
  const { version } = await store.readPolicy();
  const count = Math.min(Math.max(0, wanted), version);
  for (let window = Math.max(64, count * 2); ; window *= 4) {
    const size = Math.min(window, MAX_AUDIT_SCAN);
    const entries = await store.listAudit(size);
    const documents = entries.filter((e) => isPolicyDocument(e.new));
    if (documents.length >= count || entries.length < size || size === MAX_AUDIT_SCAN) {
      return documents.slice(0, count).map((e, i) => ({ version: version - i, time: e.time, actor: e.actor, action: e.action, document: e.new as PolicyDocument }));
    }
  }
}

/** Policy versions from the audit log, newest first. */
export function policyHistory(store: PolicyStore, limit: number): Promise<PolicyVersion[]> {
  return recentVersions(store, limit);
}

/** Version `target` and the one before it (when recorded), read from the audit log. */
async function versionAndPrevious(store: PolicyStore, target: number): Promise<{ found: PolicyVersion | null; previous: PolicyVersion | null }> {
  const current = await store.readPolicyVersion();
  if (!Number.isInteger(target) || target < 1 || target > current) return { found: null, previous: null };
  const versions = await recentVersions(store, current - target + 2);
  const i = versions.findIndex((v) => v.version === target);
  return { found: versions[i] ?? null, previous: i < 0 ? null : versions[i + 1] ?? null };
}

/** Writes version `target` again as a new version (audited as `policy.rollback:vN`). */
export async function rollbackPolicy(store: PolicyStore, target: number, opts: ChangeOptions): Promise<PolicyChangeResult | { kind: 'unknown-version'; reason: string }> {
  const { found } = await versionAndPrevious(store, target);
  if (!found) {
    const versions = await recentVersions(store, MAX_AUDIT_SCAN);
    const known = versions.length ? `${versions[versions.length - 1].version} to ${versions[0].version}` : 'none';
    return { kind: 'unknown-version', reason: `no policy version ${target} in the audit log (versions ${known}; see "mxward policy history")` };
  }
  return changeWithDiff(store, `policy.rollback:v${target}`, opts, () => ({ next: structuredClone(found.document) }));
}

export interface PolicyVersionDetail extends PolicyVersion {
  /** The version it replaced, when the audit log still has it (null for the first one recorded). */
  previousVersion: number | null;
  /** What this version changed against the one before it (against the defaults for the first). */
  diff: PolicyDiff;
}

/** One version with the change it made: what the console shows before a rollback. */
export async function policyVersionDetail(store: PolicyStore, target: number): Promise<PolicyVersionDetail | null> {
  const { found, previous } = await versionAndPrevious(store, target);
  if (!found) return null;
  const before = previous?.document ?? defaultPolicy();
  return { ...found, previousVersion: previous?.version ?? null, diff: diffPolicies(before, found.document) };
}
