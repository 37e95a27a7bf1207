// What the report keeps per source (issue 5), in bounded memory whatever the number of sources
// (issue 17): counters are made on their first key (a message trace fills four of fifteen),
// recipients are hashes and then a sketch (distinct.ts), and kept strings are shared (intern()).
import type { MessageKind } from './classify.ts';
import { intern } from './detach.ts';
import { newDistinct } from './distinct.ts';
import type { DistinctCounter } from './distinct.ts';

const NO_COUNTS: ReadonlyMap<string, number> = new Map();

/**
 * A counter of at most `cap` keys; the rest count together as "(other)". When more than `cap`
 * keys come, the alphabetically first ones are kept (not the first seen): that choice does not
 * depend on the order of the rows, so partial counts of parts of a file merge into exactly the
 * counts of the whole (merge-aggregate.ts). Kept keys stay in first-seen order.
 */
export class CappedCounts {
  /**
   * [key, count, key, count, …] in first-seen order, null until the first key: a flat array
   * holds a few keys in a fraction of a Map's memory, and a scan of at most `cap` keys (from the
   * newest: rows come in time order) costs less than hashing the key. A new key makes a copy of
   * exactly the new size (at most 2 x cap entries, and new keys are rare next to rows): an array
   * grown by push reserves room for 16 more, about 400 bytes more per small source.
   * Public so that a structured clone keeps it (merge-aggregate.ts).
   */
  entries: Array<string | number> | null = null;
  readonly cap: number;
  /** Rows whose key is not kept. */
  other = 0;
  /** The largest kept key (public so that a structured clone keeps it: merge-aggregate.ts). */
  maxKey: string | null = null;
  constructor(cap: number) { this.cap = cap; }
  /** The kept keys and their counts (a fresh Map, for reading: the report calls it per source, not per row). */
  get counts(): ReadonlyMap<string, number> {
    const e = this.entries;
    if (e === null) return NO_COUNTS;
    const map = new Map<string, number>();
    for (let i = 0; i < e.length; i += 2) map.set(e[i] as string, e[i + 1] as number);
    return map;
  }
  add(key: string | null | undefined, n = 1): void {
    if (key === null || key === undefined || key === '') return;
    const e = this.entries;
    if (e !== null) {
      for (let i = e.length - 2; i >= 0; i -= 2) if (e[i] === key) { (e[i + 1] as number) += n; return; }
    }
    const size = e === null ? 0 : e.length >> 1;
    if (size < this.cap) {
      const k = intern(key);
      this.entries = e === null ? [k, n] : e.concat(k, n);
      if (this.maxKey === null || k > this.maxKey) this.maxKey = k;
      return;
    }
    const max = this.maxKey;
    if (e === null || max === null || key > max) { this.other += n; return; }
    const at = e.indexOf(max);
    this.other += e[at + 1] as number;
    e.splice(at, 2);
    e.push(intern(key), n);
    let next: string | null = null;
    for (let i = 0; i < e.length; i += 2) if (next === null || (e[i] as string) > next) next = e[i] as string;
    this.maxKey = next;
  }
  /**
   * Adds another counter's kept keys and counts (`entries`, in its first-seen order) and its
   * "(other)": the same as add() per key, with at most one copy of this counter's entries when the
   * new keys fit (merging a partial would otherwise copy them once per new key, garbage that the
   * main thread makes for tens of thousands of sources at the end of a parallel read, issue 17).
   */
  addAll(entries: ReadonlyArray<string | number> | null, other: number): void {
    this.other += other;
    if (entries === null) return;
    const e = this.entries;
    let fresh: Array<string | number> | null = null;
    next: for (let j = 0; j < entries.length; j += 2) {
      const key = entries[j] as string;
      const n = entries[j + 1] as number;
      if (e !== null) for (let i = e.length - 2; i >= 0; i -= 2) if (e[i] === key) { (e[i + 1] as number) += n; continue next; }
      (fresh ??= []).push(key, n);
    }
    if (fresh === null) return;
    if ((e === null ? 0 : e.length >> 1) + (fresh.length >> 1) > this.cap) {
      // Some must go to "(other)": add() decides which, key by key (bumping a kept key first
      // changes nothing: which keys are kept depends on the keys, not on their counts).
      for (let j = 0; j < fresh.length; j += 2) this.add(fresh[j] as string, fresh[j + 1] as number);
      return;
    }
    for (let j = 0; j < fresh.length; j += 2) {
      const k = intern(fresh[j] as string);
      fresh[j] = k;
      if (this.maxKey === null || k > this.maxKey) this.maxKey = k;
    }
    this.entries = e === null ? fresh.slice() : e.concat(fresh);
  }
  /** The count of one kept key (0 when not kept). */
  get(key: string): number {
    const e = this.entries;
    if (e !== null) for (let i = 0; i < e.length; i += 2) if (e[i] === key) return e[i + 1] as number;
    return 0;
  }
  /** Kept keys in first-seen order. */
  keys(): string[] {
    const e = this.entries;
    const out: string[] = [];
    if (e !== null) for (let i = 0; i < e.length; i += 2) out.push(e[i] as string);
    return out;
  }
  /** Every row counted, kept keys and "(other)" alike. */
  total(): number {
    const e = this.entries;
    let n = this.other;
    if (e !== null) for (let i = 1; i < e.length; i += 2) n += e[i] as number;
    return n;
  }
  /** Keys by count (then name), "(other)" among them when some rows were not kept. */
  top(n: number): Array<[string, number]> {
    const e = this.entries;
    if (e === null && this.other === 0) return [];
    const all: Array<[string, number]> = [];
    if (e !== null) for (let i = 0; i < e.length; i += 2) all.push([e[i] as string, e[i + 1] as number]);
    if (this.other > 0) all.push(['(other)', this.other]);
    return all.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
  }
  /** Kept keys, plus one for "(other)". */
  get size(): number { return (this.entries === null ? 0 : this.entries.length >> 1) + (this.other > 0 ? 1 : 0); }
}

/**
 * The one counter every source starts with in every counter field: frozen, so a write that
 * bypasses counter() fails loudly instead of counting for every source at once.
 */
export const EMPTY_COUNTS: CappedCounts = Object.freeze(new CappedCounts(0));

/** Each counter field of a source and how many keys it keeps. */
export const COUNTER_CAPS = {
  days: 400, helos: 20, ptrs: 20, p1Domains: 50, p1Addresses: 20, p2Domains: 50, spf: 10, dkim: 10, dmarc: 10, compauth: 10,
  verdicts: 10, threats: 10, connectors: 10, certificateNames: 10, rejectCodes: 4,
} as const;
export type CounterField = keyof typeof COUNTER_CAPS;
export const COUNTER_FIELDS = Object.keys(COUNTER_CAPS) as CounterField[];

/** The source's own counter for `field`, made on first use. */
export function counter(s: SourceStats, field: CounterField): CappedCounts {
  const c = s[field];
  return c === EMPTY_COUNTS ? (s[field] = new CappedCounts(COUNTER_CAPS[field])) : c;
}

/** Counts `key` (nothing for null or '') in the source's `field`. */
export function countIn(s: SourceStats, field: CounterField, key: string | null | undefined, n = 1): void {
  if (key === null || key === undefined || key === '') return;
  counter(s, field).add(key, n);
}

export function kindCounts(): Record<MessageKind, number> {
  return { 'direct-send': 0, 'header-from': 0, connector: 0, internal: 0, external: 0 };
}

export type SourceStats = {
  key: string;
  ip: string | null;
  network: string | null;
  rows: number;
  kinds: Record<MessageKind, number>;
  wouldReject: number;
  whatIfReject: number;
  firstMs: number | null;
  lastMs: number | null;
  /** Distinct lower-cased recipients: exact up to EXACT_LIMIT, then estimated (distinct.ts). */
  recipients: DistinctCounter;
  subjects: string[];
  lureRows: number;
  /** The most recipients one message had (fan-out), over the recent-message window below. */
  maxRecipientsPerMessage: number;
  /**
   * The last few messages of this source and their recipient counts. Exports list one row per
   * recipient, the rows of one message next to each other (same Message-ID, else same time and
   * subject), so a small window counts them without keeping every message.
   */
  recentMessages: RecentMessages;
  srsRows: number;
  arcRows: number;
  heloBracketed: number;
  heloOwnDomain: number;
} & {
  /**
   * days, HELOs, PTRs, P1/P2 domains, P1 addresses, auth results, the export's own verdicts
   * against this source's messages (Quarantined, FilteredAsSpam, …), threats it names (Defender
   * ThreatTypes, antispam CAT/SFV), connectors, certificate names, reject codes.
   */
  [F in CounterField]: CappedCounts;
};

/**
 * [key, recipients, key, recipients, …], oldest first: a message's key (a 30-bit hash of its
 * Message-ID, else of its time and subject: small integers, so that nothing here allocates or
 * pins an input chunk per row) and its recipients so far.
 */
export type RecentMessages = number[];

/** `/24` for IPv4, `/64` for IPv6: the grouping a printer fleet or a vendor's pool shares. */
export function networkOf(ip: string | null): string | null {
  if (!ip) return null;
  if (ip.includes(':')) {
    const groups = ip.split(':');
    return groups.length >= 4 && !ip.includes('::') ? `${groups.slice(0, 4).join(':')}::/64` : `${ip}/128`;
  }
  const last = ip.lastIndexOf('.');
  return last > 0 ? `${ip.slice(0, last)}.0/24` : null;
}

/**
 * The subjects and recent messages of a source with none yet: one frozen array shared by all (an
 * empty array costs 32 bytes, and every writer replaces these lists by a copy of the new size
 * instead of writing in place, which the freeze enforces).
 */
export const NO_SUBJECTS = Object.freeze([]) as unknown as string[];
export const NO_RECENT_MESSAGES = Object.freeze([]) as unknown as RecentMessages;

export function newSource(key: string, ip: string | null): SourceStats {
  const e = EMPTY_COUNTS;
  const network = networkOf(ip);
  return {
    key, ip, network: network === null ? null : intern(network), rows: 0, kinds: kindCounts(), wouldReject: 0, whatIfReject: 0,
    firstMs: null, lastMs: null, days: e, helos: e, ptrs: e,
    p1Domains: e, p1Addresses: e, p2Domains: e,
    recipients: newDistinct(), subjects: NO_SUBJECTS, lureRows: 0,
    spf: e, dkim: e, dmarc: e, compauth: e,
    verdicts: e, threats: e, maxRecipientsPerMessage: 0, recentMessages: NO_RECENT_MESSAGES,
    srsRows: 0, arcRows: 0, heloBracketed: 0, heloOwnDomain: 0,
    connectors: e, certificateNames: e, rejectCodes: e,
  };
}
