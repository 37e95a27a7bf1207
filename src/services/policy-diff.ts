// What a policy change would do, as data (issue 12): accepted domains and connectors added,
// removed or changed, and changed switches. Pure: `policy import/merge/rollback --dry-run` print
// it, and import refuses a change with removals unless the operator asked for them (--replace).
import type { PolicyDocument } from '../config/policy-schema.ts';

export interface PolicyDiff {
  domains: { added: string[]; removed: string[]; changed: string[] };
  connectors: { added: string[]; removed: string[]; changed: Array<{ name: string; fields: string[] }> };
  /** Top-level switches (rejectDirectSend, …) whose value changes: `name: old -> new`. */
  settings: string[];
}

type Doc = PolicyDocument & Record<string, unknown>;

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const domainKey = (d: { domain: string }): string => d.domain.toLowerCase();

export function diffPolicies(current: PolicyDocument, next: PolicyDocument): PolicyDiff {
  const oldDomains = new Map(current.acceptedDomains.map((d) => [domainKey(d), d]));
  const newDomains = new Map(next.acceptedDomains.map((d) => [domainKey(d), d]));
  const oldConnectors = new Map(current.connectors.map((c) => [c.name, c]));
  const newConnectors = new Map(next.connectors.map((c) => [c.name, c]));
  const changedConnectors: PolicyDiff['connectors']['changed'] = [];
  for (const [name, c] of newConnectors) {
    const before = oldConnectors.get(name) as Record<string, unknown> | undefined;
    if (!before || same(before, c)) continue;
    const after = c as Record<string, unknown>;
    const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !same(before[k], after[k]));
    changedConnectors.push({ name, fields });
  }
  const settings: string[] = [];
  const a = current as Doc;
  const b = next as Doc;
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (key === 'acceptedDomains' || key === 'connectors' || same(a[key], b[key])) continue;
    settings.push(`${key}: ${JSON.stringify(a[key] ?? null)} -> ${JSON.stringify(b[key] ?? null)}`);
  }
  return {
    domains: {
      added: [...newDomains.keys()].filter((d) => !oldDomains.has(d)),
      removed: [...oldDomains.keys()].filter((d) => !newDomains.has(d)),
      changed: [...newDomains].filter(([d, v]) => oldDomains.has(d) && !same(oldDomains.get(d), v)).map(([d]) => d),
    },
    connectors: {
      added: [...newConnectors.keys()].filter((n) => !oldConnectors.has(n)),
      removed: [...oldConnectors.keys()].filter((n) => !newConnectors.has(n)),
      changed: changedConnectors,
    },
    settings,
  };
}

export function hasRemovals(d: PolicyDiff): boolean {
  return d.domains.removed.length > 0 || d.connectors.removed.length > 0;
}

export function isEmptyDiff(d: PolicyDiff): boolean {
  return !hasRemovals(d) && d.domains.added.length === 0 && d.domains.changed.length === 0
    && d.connectors.added.length === 0 && d.connectors.changed.length === 0 && d.settings.length === 0;
}

/** One line per change: `+` added, `-` removed, `~` changed. */
export function formatDiff(d: PolicyDiff): string[] {
  if (isEmptyDiff(d)) return ['  (no change)'];
  return [
    ...d.domains.added.map((x) => `  + accepted domain ${x}`),
    ...d.connectors.added.map((x) => `  + connector ${x}`),
    ...d.domains.removed.map((x) => `  - accepted domain ${x}`),
    ...d.connectors.removed.map((x) => `  - connector ${x}`),
    ...d.domains.changed.map((x) => `  ~ accepted domain ${x}`),
    ...d.connectors.changed.map((x) => `  ~ connector ${x.name}: ${x.fields.join(', ')}`),
    ...d.settings.map((x) => `  ~ ${x}`),
  ];
}
