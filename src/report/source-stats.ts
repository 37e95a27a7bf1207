// What the report keeps per source (issue 5), in bounded memory whatever the number of sources
// (issue 17): counters are made on their first key (a message trace fills four of fifteen),
// recipients are hashes and then a sketch (distinct.ts), and kept strings are shared (intern()).
import type { MessageKind } from './classify.ts';
import { intern } from './detach.ts';
import { NO_HASHES } from './distinct.ts';
import { NO_PACKED_SUBJECTS, unpackSubjects } from './source-subjects.ts';
import type { DistinctCounter } from './distinct.ts';

const NO_COUNTS: ReadonlyMap<string, number> = new Map();

/**
 * A counter's keys and counts as a source keeps them: null until its first row, then
 * [other, largest kept key (null while none), key, count, key, count, …], kept keys in first-seen
 * order, "other" the rows of keys not kept. One flat array of exactly its size per counter and
 * nothing else: tens of thousands of sources each fill four or five counters, and an object
 * around each array cost 56 bytes more per counter (issue 17).
 */
export type CounterState = Array<string | number | null> | null;
/** Where the keys start in a CounterState. */
const FIRST = 2;

/**
 * `state` with `key` counted `n` more times (the same array, or a new one of exactly the new size:
 * new keys are rare next to rows, and a scan of at most `cap` keys, from the newest since rows
 * come in time order, costs less than hashing the key). When more than `cap` keys come, the
 * alphabetically first ones are kept (not the first seen): that choice does not depend on the
 * order of the rows, so partial counts of parts of a file merge into exactly the counts of the
 * whole (merge-aggregate.ts).
 */
export function addToCounter(state: CounterState, cap: number, key: string, n: number): CounterState {
  const c = state;
  if (c !== null) for (let i = c.length - 2; i >= FIRST; i -= 2) if (c[i] === key) { (c[i + 1] as number) += n; return c; }
  const size = c === null ? 0 : (c.length - FIRST) >> 1;
  if (size < cap) {
    const k = intern(key);
    if (c === null) return [0, k, k, n];
    const next = c.concat(k, n);
    if (next[1] === null || k > (next[1] as string)) next[1] = k;
    return next;
  }
  if (c === null) return [n, null];
  const max = c[1] as string | null;
  if (max === null || key > max) { (c[0] as number) += n; return c; }
  let at = FIRST;
  while (c[at] !== max) at += 2;
  (c[0] as number) += c[at + 1] as number;
  c.splice(at, 2);
  c.push(intern(key), n);
  let largest: string | null = null;
  for (let i = FIRST; i < c.length; i += 2) if (largest === null || (c[i] as string) > largest) largest = c[i] as string;
  c[1] = largest;
  return c;
}

/**
 * `state` with another counter's state `b` added (a partial's, in its first-seen order): the same
 * as addToCounter() per key, with at most one copy of `state` when the new keys fit (merging a
 * partial would otherwise copy it once per new key, garbage that the main thread makes for tens
 * of thousands of sources at the end of a parallel read).
 */
export function mergeIntoCounter(state: CounterState, cap: number, b: CounterState): CounterState {
  if (b === null) return state;
  let c = state;
  let fresh: Array<string | number> | null = null;
  next: for (let j = FIRST; j < b.length; j += 2) {
    const key = b[j] as string;
    const n = b[j + 1] as number;
    if (c !== null) for (let i = c.length - 2; i >= FIRST; i -= 2) if (c[i] === key) { (c[i + 1] as number) += n; continue next; }
    (fresh ??= []).push(key, n);
  }
  if (fresh !== null) {
    if ((c === null ? 0 : (c.length - FIRST) >> 1) + (fresh.length >> 1) > cap) {
      // Some go to "other": addToCounter() decides which, key by key (bumping a kept key first
      // changes nothing: which keys are kept depends on the keys, not on their counts).
      for (let j = 0; j < fresh.length; j += 2) c = addToCounter(c, cap, fresh[j] as string, fresh[j + 1] as number);
    } else {
      let largest = c === null ? null : c[1] as string | null;
      for (let j = 0; j < fresh.length; j += 2) {
        const k = intern(fresh[j] as string);
        fresh[j] = k;
        if (largest === null || k > largest) largest = k;
      }
      c = c === null ? [0, largest, ...fresh] : c.concat(fresh);
      c[1] = largest;
    }
  }
  const other = b[0] as number;
  if (other > 0) {
    if (c === null) c = [other, null];
    else (c[0] as number) += other;
  }
  return c;
}

/**
 * A counter of at most `cap` keys (addToCounter()); the rest count together as "(other)". A
 * source's counters are read through one of these made on each read (SourceStats' getters):
 * count into a source with countIn(), never through it.
 */
export class CappedCounts {
  state: CounterState;
  readonly cap: number;
  constructor(cap: number, state: CounterState = null) { this.cap = cap; this.state = state; }
  /** The kept keys and their counts (a fresh Map, for reading: the report calls it per source, not per row). */
  get counts(): ReadonlyMap<string, number> {
    const c = this.state;
    if (c === null || c.length === FIRST) return NO_COUNTS;
    const map = new Map<string, number>();
    for (let i = FIRST; i < c.length; i += 2) map.set(c[i] as string, c[i + 1] as number);
    return map;
  }
  add(key: string | null | undefined, n = 1): void {
    if (key === null || key === undefined || key === '') return;
    this.state = addToCounter(this.state, this.cap, key, n);
  }
  /** Adds another counter's keys, counts and "(other)" (see mergeIntoCounter()). */
  addAll(b: CappedCounts): void {
    this.state = mergeIntoCounter(this.state, this.cap, b.state);
  }
  /** Rows whose key is not kept. */
  get other(): number { return this.state === null ? 0 : this.state[0] as number; }
  /** The largest kept key. */
  get maxKey(): string | null { return this.state === null ? null : this.state[1] as string | null; }
  /** [key, count, key, count, …] in first-seen order, null when no key is kept (a copy). */
  get entries(): Array<string | number> | null {
    const c = this.state;
    return c === null || c.length === FIRST ? null : c.slice(FIRST) as Array<string | number>;
  }
  /** The count of one kept key (0 when not kept). */
  get(key: string): number {
    const c = this.state;
    if (c !== null) for (let i = FIRST; i < c.length; i += 2) if (c[i] === key) return c[i + 1] as number;
    return 0;
  }
  /** Kept keys in first-seen order. */
  keys(): string[] {
    const c = this.state;
    const out: string[] = [];
    if (c !== null) for (let i = FIRST; i < c.length; i += 2) out.push(c[i] as string);
    return out;
  }
  /** Every row counted, kept keys and "(other)" alike. */
  total(): number {
    const c = this.state;
    if (c === null) return 0;
    let n = c[0] as number;
    for (let i = FIRST + 1; i < c.length; i += 2) n += c[i] as number;
    return n;
  }
  /** Keys by count (then name), "(other)" among them when some rows were not kept. */
  top(n: number): Array<[string, number]> {
    const c = this.state;
    if (c === null) return [];
    const all: Array<[string, number]> = [];
    for (let i = FIRST; i < c.length; i += 2) all.push([c[i] as string, c[i + 1] as number]);
    if ((c[0] as number) > 0) all.push(['(other)', c[0] as number]);
    return all.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
  }
  /** Kept keys, plus one for "(other)". */
  get size(): number {
    const c = this.state;
    return c === null ? 0 : ((c.length - FIRST) >> 1) + ((c[0] as number) > 0 ? 1 : 0);
  }
}

/** Each counter field of a source and how many keys it keeps. */
export const COUNTER_CAPS = {
  days: 400, helos: 20, ptrs: 20, p1Domains: 50, p1Addresses: 20, p2Domains: 50, spf: 10, dkim: 10, dmarc: 10, compauth: 10,
  verdicts: 10, threats: 10, connectors: 10, certificateNames: 10, rejectCodes: 4,
} as const;
export type CounterField = keyof typeof COUNTER_CAPS;
export const COUNTER_FIELDS = Object.keys(COUNTER_CAPS) as CounterField[];
/** A counter's number in a source's tags: its place in COUNTER_FIELDS (sixteen fit in 4 bits). */
const FIELD_INDEX = Object.fromEntries(COUNTER_FIELDS.map((f, i) => [f, i])) as Record<CounterField, number>;
const CAP_OF_INDEX = COUNTER_FIELDS.map((f) => COUNTER_CAPS[f]);

/**
 * All the counters of one source in one flat array: [key, tag, key, tag, …], tag = count × 32 +
 * the counter's number (FIELD_INDEX). The entries are grouped by counter, in counter order, and
 * within a counter in its first-seen order; a counter with rows not kept starts its group with an
 * "(other)" entry, tagged count × 32 + 16 + its number, whose key slot holds the counter's largest
 * kept key (what decides whether a new key is kept, without a scan). So the array is a function
 * of the counters' states alone, whatever order the rows came in or the merges happened. A source
 * fills four or five of its fifteen counters: one array for all of them pays the array's 48 bytes
 * once, and the [other, largest] pair only for a counter that overflowed (issue 17: 80,000 botnet
 * sources per reading thread). Counts past 2^26 make a tag a heap number: larger, still exact
 * (tags are read with & on their low bits, which ToInt32 keeps for any integer below 2^53).
 */
export type SourceCounts = Array<string | number | null>;
const TAG_UNIT = 32;
const OTHER_TAG = 16;
/** The counters of a source with none yet (frozen: every writer makes a new array). */
export const NO_SOURCE_COUNTS = Object.freeze([]) as unknown as SourceCounts;

/** What a counter is read from: a source, or the structured clone of one. */
export interface CountsHolder { counts: SourceCounts; counterFields: number }

/** Counter `field` of `s` in the CounterState layout (a fresh array: for reading and merging). */
export function counterStateOf(s: CountsHolder, field: CounterField): CounterState {
  return stateOfIndex(s, FIELD_INDEX[field]);
}

function stateOfIndex(s: CountsHolder, f: number): CounterState {
  if ((s.counterFields & (1 << f)) === 0) return null;
  return stateOfEntries(s.counts, 0, s.counts.length, f);
}

/** `c` with `pairs` put in at `at` (one new array, of exactly its size). */
function insertAt(c: SourceCounts, at: number, pairs: SourceCounts): SourceCounts {
  const next = c.concat(pairs);
  if (at < c.length) {
    next.copyWithin(at + pairs.length, at, c.length);
    for (let j = 0; j < pairs.length; j++) next[at + j] = pairs[j];
  }
  return next;
}

/** Where counter `f`'s group starts in `c`, and where it ends (both `c.length` and after the last group if absent). */
function groupOf(c: SourceCounts, f: number): [number, number] {
  let start = 0;
  while (start < c.length && ((c[start + 1] as number) & 15) < f) start += 2;
  let end = start;
  while (end < c.length && ((c[end + 1] as number) & 15) === f) end += 2;
  return [start, end];
}

/**
 * Counter `f` of `s` set to `state` (its group replaced): the rare paths (a counter at its cap,
 * merges with "(other)") go through CounterState and addToCounter()/mergeIntoCounter(), so that
 * what is kept stays decided by one piece of code.
 */
function replaceCounter(s: CountsHolder, f: number, state: CounterState): void {
  const c = s.counts;
  const [start, end] = groupOf(c, f);
  const group: SourceCounts = [];
  const other = state === null ? 0 : state[0] as number;
  if (state !== null) {
    if (other > 0) group.push(state[1], other * TAG_UNIT + OTHER_TAG + f);
    for (let i = FIRST; i < state.length; i += 2) group.push(intern(state[i] as string), (state[i + 1] as number) * TAG_UNIT + f);
  }
  const next = c.slice(0, start).concat(group, c.slice(end));
  s.counts = next.length === 0 ? NO_SOURCE_COUNTS : next;
  if (group.length > 0) s.counterFields |= 1 << f;
  else s.counterFields &= ~(1 << f);
}

/** Counts `key` (nothing for null or '') `n` times in the source's counter `field`, as addToCounter() would. */
export function countIn(s: SourceStats, field: CounterField, key: string | null | undefined, n = 1): void {
  if (key === null || key === undefined || key === '') return;
  const f = FIELD_INDEX[field];
  const c = s.counts;
  let size = 0;
  let otherAt = -1;
  let at = 0;
  while (at < c.length && ((c[at + 1] as number) & 15) < f) at += 2;
  for (; at < c.length; at += 2) {
    const tag = c[at + 1] as number;
    if ((tag & 15) !== f) break;
    if ((tag & OTHER_TAG) !== 0) { otherAt = at; continue; }
    if (c[at] === key) { c[at + 1] = tag + n * TAG_UNIT; return; }
    size++;
  }
  const cap = CAP_OF_INDEX[f];
  if (otherAt < 0 && size < cap) {
    // `at` is the end of the counter's group (or where it goes).
    s.counts = insertAt(c, at, [intern(key), n * TAG_UNIT + f]);
    s.counterFields |= 1 << f;
    return;
  }
  if (otherAt >= 0 && size >= cap) {
    const largest = c[otherAt] as string | null;
    if (largest === null || key > largest) { c[otherAt + 1] = (c[otherAt + 1] as number) + n * TAG_UNIT; return; }
  }
  replaceCounter(s, f, addToCounter(stateOfIndex(s, f), cap, key, n));
}

/** The entries of `c` from `start` to `end` (one counter's group) as a CounterState. */
function stateOfGroup(c: SourceCounts, start: number, end: number): CounterState {
  return start === end ? null : stateOfEntries(c, start, end, null);
}

/** The entries of `c` from `start` to `end`, only counter `f`'s when f is given, as a CounterState. */
function stateOfEntries(c: SourceCounts, start: number, end: number, f: number | null): CounterState {
  const state: Array<string | number | null> = [0, null];
  let largest: string | null = null;
  for (let i = start; i < end; i += 2) {
    const tag = c[i + 1] as number;
    if (f !== null && (tag & 15) !== f) continue;
    const n = (tag - (tag & 31)) / TAG_UNIT;
    if ((tag & OTHER_TAG) !== 0) { state[0] = n; continue; }
    const key = c[i] as string;
    state.push(key, n);
    if (largest === null || key > largest) largest = key;
  }
  state[1] = largest;
  return state;
}

/** Where the group of the counter at `start` ends. */
function groupEnd(c: SourceCounts, start: number): number {
  const f = (c[start + 1] as number) & 15;
  let end = start + 2;
  while (end < c.length && ((c[end + 1] as number) & 15) === f) end += 2;
  return end;
}

/** Whether every key of b's group is in s's and neither has "(other)": then the merge only adds counts. */
function onlyCounts(c: SourceCounts, start: number, end: number, bc: SourceCounts, bStart: number, bEnd: number): boolean {
  if (start === end || ((c[start + 1] as number) & OTHER_TAG) !== 0 || ((bc[bStart + 1] as number) & OTHER_TAG) !== 0) return false;
  next: for (let j = bStart; j < bEnd; j += 2) {
    for (let i = start; i < end; i += 2) if (c[i] === bc[j]) continue next;
    return false;
  }
  return true;
}

/**
 * Adds every counter of `b` (a partial's source, as cloned) into `s`, counter by counter as
 * mergeIntoCounter() would, in one pass over both arrays (both are grouped in counter order): in
 * place when every key is known, else into one new array. Merging counter by counter made a copy
 * of the whole array per counter, garbage that the main thread makes for tens of thousands of
 * sources while it merges a worker's (issue 17).
 */
export function mergeAllCounts(s: SourceStats, b: CountsHolder): void {
  const bc = b.counts;
  if (bc.length === 0) return;
  const c = s.counts;
  if (c.length === 0) { s.counts = adoptCounts(b); s.counterFields = b.counterFields; return; }
  // The groups of s that b's groups meet, found once: [f, start, end, bStart, bEnd] per b group.
  const meet: number[] = [];
  let inPlace = true;
  for (let j = 0; j < bc.length;) {
    const f = (bc[j + 1] as number) & 15;
    const bEnd = groupEnd(bc, j);
    const [start, end] = groupOf(c, f);
    if (inPlace && !onlyCounts(c, start, end, bc, j, bEnd)) inPlace = false;
    meet.push(f, start, end, j, bEnd);
    j = bEnd;
  }
  if (inPlace) {
    for (let m = 0; m < meet.length; m += 5) {
      for (let j = meet[m + 3]; j < meet[m + 4]; j += 2) {
        for (let i = meet[m + 1]; i < meet[m + 2]; i += 2) if (c[i] === bc[j]) { c[i + 1] = (c[i + 1] as number) + ((bc[j + 1] as number) - ((bc[j + 1] as number) & 31)); break; }
      }
    }
    return;
  }
  const next: SourceCounts = [];
  let from = 0;
  for (let m = 0; m < meet.length; m += 5) {
    const [f, start, end, bStart, bEnd] = [meet[m], meet[m + 1], meet[m + 2], meet[m + 3], meet[m + 4]];
    // s's groups before this one, as they are.
    for (let i = from; i < start; i++) next.push(c[i]);
    from = end;
    const merged = mergeIntoCounter(stateOfGroup(c, start, end), CAP_OF_INDEX[f], stateOfGroup(bc, bStart, bEnd));
    if (merged === null) continue;
    const other = merged[0] as number;
    if (other > 0) next.push(merged[1], other * TAG_UNIT + OTHER_TAG + f);
    for (let i = FIRST; i < merged.length; i += 2) next.push(intern(merged[i] as string), (merged[i + 1] as number) * TAG_UNIT + f);
    s.counterFields |= 1 << f;
  }
  for (let i = from; i < c.length; i++) next.push(c[i]);
  // An array of exactly its size: one grown by push keeps spare room.
  s.counts = next.slice();
}

/** A clone's counters as a source's own: the same array with its keys shared (intern()). */
export function adoptCounts(b: CountsHolder): SourceCounts {
  const c = b.counts;
  if (c.length === 0) return NO_SOURCE_COUNTS;
  const own = c.slice();
  for (let i = 0; i < own.length; i += 2) if (own[i] !== null) own[i] = intern(own[i] as string);
  return own;
}

/** Counts a row of `kind` in the source (only the kinds aggregate.ts keeps per source come here). */
export function countKind(s: SourceStats, kind: MessageKind): void {
  if (kind === 'direct-send') s.directSendRows++;
  else if (kind === 'header-from') s.headerFromRows++;
  else if (kind === 'connector') s.connectorRows++;
  else throw new Error(`a source does not count ${kind} rows`);
}

export function kindCounts(): Record<MessageKind, number> {
  return { 'direct-send': 0, 'header-from': 0, connector: 0, internal: 0, external: 0 };
}

/**
 * What the report keeps of one source. Its counters are kept together in one flat array (`counts`:
 * SourceCounts) and read as CappedCounts through getters (`days`, …, made per read, for reading
 * only: count with countIn()). Own fields only, so that a structured clone carries the whole
 * state (merge-aggregate.ts builds a SourceStats again from a clone).
 */
export interface SourceStats extends Readonly<Record<CounterField, CappedCounts>> {
  /** The kept subjects (a fresh array per read, NO_SUBJECTS when none). */
  readonly subjects: string[];
  /** The recipients' distinct counter: the source itself (count with addHash(s.recipients, …)). */
  readonly recipients: DistinctCounter;
  /** Rows per kind (a fresh record per read; count with countKind()). */
  readonly kinds: Record<MessageKind, number>;
}
export class SourceStats {
  key: string;
  ip: string | null;
  network: string | null;
  rows = 0;
  /**
   * Rows per kind: a source counts only these three (internal and external mail is not kept per
   * source, aggregate.ts), as fields rather than an object of five (48 bytes less per source);
   * read as a record of all five through `kinds`.
   */
  directSendRows = 0;
  headerFromRows = 0;
  connectorRows = 0;
  wouldReject = 0;
  whatIfReject = 0;
  firstMs: number | null = null;
  lastMs: number | null = null;
  /**
   * Distinct lower-cased recipients: exact up to EXACT_LIMIT, then estimated (distinct.ts). The
   * source holds the DistinctCounter's two fields itself (and is read as one through
   * `recipients`): an object of its own cost 40 bytes more per source.
   */
  hashes: readonly number[] = NO_HASHES;
  sketch: Uint8Array | null = null;
  /** The first MAX_SUBJECTS distinct subjects, packed (source-subjects.ts); read through `subjects`. */
  subjectsPacked = NO_PACKED_SUBJECTS;
  lureRows = 0;
  /** The most recipients one message had (fan-out), over the recent-message window below. */
  maxRecipientsPerMessage = 0;
  /**
   * The last few messages of this source and their recipient counts. Exports list one row per
   * recipient, the rows of one message next to each other (same Message-ID, else same time and
   * subject), so a small window counts them without keeping every message.
   */
  recentMessages: RecentMessages = NO_RECENT_MESSAGES;
  srsRows = 0;
  arcRows = 0;
  heloBracketed = 0;
  heloOwnDomain = 0;
  /**
   * days, HELOs, PTRs, P1/P2 domains, P1 addresses, auth results, the export's own verdicts
   * against this source's messages (Quarantined, FilteredAsSpam, …), threats it names (Defender
   * ThreatTypes, antispam CAT/SFV), connectors, certificate names, reject codes: all in one array
   * (SourceCounts), and which of them have entries (bit FIELD_INDEX), so that reading an empty
   * counter does not scan.
   */
  counts: SourceCounts = NO_SOURCE_COUNTS;
  counterFields = 0;
  constructor(key: string, ip: string | null, network: string | null) {
    this.key = key;
    this.ip = ip;
    this.network = network;
  }
}
for (const f of COUNTER_FIELDS) {
  const at = FIELD_INDEX[f];
  const cap = COUNTER_CAPS[f];
  Object.defineProperty(SourceStats.prototype, f, { get(this: SourceStats) { return new CappedCounts(cap, stateOfIndex(this, at)); } });
}
Object.defineProperty(SourceStats.prototype, 'recipients', { get(this: SourceStats) { return this; } });
Object.defineProperty(SourceStats.prototype, 'kinds', {
  get(this: SourceStats) { return { 'direct-send': this.directSendRows, 'header-from': this.headerFromRows, connector: this.connectorRows, internal: 0, external: 0 }; },
});
Object.defineProperty(SourceStats.prototype, 'subjects', {
  get(this: SourceStats) { return this.subjectsPacked === NO_PACKED_SUBJECTS ? NO_SUBJECTS : unpackSubjects(this.subjectsPacked); },
});
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
  const network = networkOf(ip);
  return new SourceStats(key, ip, network === null ? null : intern(network));
}
