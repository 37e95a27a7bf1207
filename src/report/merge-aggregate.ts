// Partial aggregates from worker threads (parallel-import.ts), merged in file order into the run's
// aggregator so that the result is the one a single pass over the whole file would give.
//
// Counts, sums, first/last seen and days add up in any order, and so do the capped counters
// (CappedCounts keeps the alphabetically first keys, whatever the order), and distinct recipient
// counts (hashes, then a sketch: distinct.ts). Sample lists and subjects keep the first N in row
// order: merging partials in file order keeps that order, and a partial's first N are all a merge
// can need (the first N new ones are among them). The one list that stays first-seen is the
// sources themselves (100,000 of them, each a bundle of counters): when a partial folded sources
// into "(other sources)", or merging would, the merge says it is not exact and the caller reads
// the file again in one pass.
import type { MessageSample, SourceStats } from './aggregate.ts';
import { RECENT_MESSAGES } from './source-signals.ts';
import { MAX_INTERNAL_SENDERS, MAX_SAMPLE_MESSAGES, MAX_SOURCES, MAX_SUBJECTS, ReportAggregator } from './aggregate.ts';
import { mergeDistinct } from './distinct.ts';
import { packedCount, packedHas, packedWith, unpackSubjects } from './source-subjects.ts';
import { intern } from './detach.ts';
import { mergeAllCounts, newSource } from './source-stats.ts';
import { MESSAGE_KINDS } from './classify.ts';
import type { InputProblem } from './types.ts';

/** What a worker sends back for one byte range: its aggregate (structured-cloned) and problems. */
export interface PartialAggregate {
  rows: number;
  kinds: ReportAggregator['kinds'];
  wouldReject: number;
  whatIfReject: number;
  headerFromWouldReject: number;
  firstMs: number | null;
  lastMs: number | null;
  days: Map<number, number[]>;
  sources: Map<string, SourceStats>;
  sourcesOverflowed: boolean;
  internalSenders: Set<string>;
  otherMailAgainst: ReportAggregator['otherMailAgainst'];
  perFile: Map<string, { format: string; rows: number }>;
  samples: MessageSample[];
  samplesDropped: number;
  /** The first problems of the range (enough to print and show), and how many there were. */
  problems: InputProblem[];
  problemCount: number;
}

export function partialOf(agg: ReportAggregator, problems: InputProblem[], problemCount: number): PartialAggregate {
  return {
    rows: agg.rows, kinds: agg.kinds, wouldReject: agg.wouldReject, whatIfReject: agg.whatIfReject,
    headerFromWouldReject: agg.headerFromWouldReject, firstMs: agg.firstMs, lastMs: agg.lastMs, days: agg.days,
    sources: agg.sources, sourcesOverflowed: agg.sourcesOverflowed, internalSenders: agg.internalSenders, otherMailAgainst: agg.otherMailAgainst, perFile: agg.perFile, samples: agg.samples,
    samplesDropped: agg.samplesDropped, problems, problemCount,
  };
}

const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

const OTHER_SOURCES = '(other sources)';

/**
 * Whether merging `p` into `agg` gives what one pass would: false when `p` folded sources into
 * "(other sources)" while agg already had sources (which of them those rows belong to is
 * unknown), or when new sources would be folded row by row. Changes nothing.
 */
export function mergeIsExact(agg: ReportAggregator, p: PartialAggregate): boolean {
  if (p.sourcesOverflowed && agg.sources.size > 0) return false;
  return sourcesFit(agg, p.sources.keys());
}

/** Whether adding sources with these keys to `agg` folds none of them (a batch of a partial's sources). */
export function sourcesFit(agg: ReportAggregator, keys: Iterable<string>): boolean {
  let added = 0;
  for (const key of keys) if (key !== OTHER_SOURCES && !agg.sources.has(key)) added++;
  return added === 0 || agg.sources.size + added <= MAX_SOURCES;
}

/** Merges sources (structured clones, a partial's or a batch of one's, in file order) into `agg`. */
export function mergeSources(agg: ReportAggregator, sources: Iterable<[string, SourceStats]>): void {
  for (const [key, b] of sources) {
    const s = agg.sources.get(key);
    if (s) mergeSource(s, b);
    else agg.sources.set(key, adopt(b));
  }
}

function mergeSource(s: SourceStats, b: SourceStats): void {
  s.rows += b.rows;
  s.directSendRows += b.directSendRows;
  s.headerFromRows += b.headerFromRows;
  s.connectorRows += b.connectorRows;
  s.wouldReject += b.wouldReject;
  s.whatIfReject += b.whatIfReject;
  s.firstMs = minOf(s.firstMs, b.firstMs);
  s.lastMs = maxOf(s.lastMs, b.lastMs);
  // b's counters are read from its own fields: a structured clone has no getters.
  mergeAllCounts(s, b);
  s.lureRows += b.lureRows;
  // A message whose rows straddle two ranges is counted in parts: fan-out is then undercounted
  // by at most one message's split, never invented.
  s.maxRecipientsPerMessage = Math.max(s.maxRecipientsPerMessage, b.maxRecipientsPerMessage);
  if (b.recentMessages.length > 0) {
    const joined = s.recentMessages.concat(b.recentMessages);
    s.recentMessages = joined.length > 2 * RECENT_MESSAGES ? joined.slice(-2 * RECENT_MESSAGES) : joined;
  }
  s.srsRows += b.srsRows;
  s.arcRows += b.arcRows;
  s.heloBracketed += b.heloBracketed;
  s.heloOwnDomain += b.heloOwnDomain;
  // b's recipients are read from its own fields (a structured clone has no getters).
  mergeDistinct(s.recipients, { hashes: b.hashes, sketch: b.sketch });
  // b's subjects are read from its own field (a structured clone has no getters); a source with
  // none yet takes the clone's pack as it is (a flat string of this thread's own).
  if (s.subjectsPacked.length === 0) s.subjectsPacked = b.subjectsPacked;
  else if (b.subjectsPacked.length > 0) {
    let room = MAX_SUBJECTS - packedCount(s.subjectsPacked);
    const fresh: string[] = [];
    for (const subject of unpackSubjects(b.subjectsPacked)) if (room > 0 && !packedHas(s.subjectsPacked, subject) && !fresh.includes(subject)) { fresh.push(subject); room--; }
    if (fresh.length > 0) s.subjectsPacked = packedWith(s.subjectsPacked, fresh);
  }
}

/**
 * Merges one partial (the next byte range in file order) into `agg`. Line numbers in the partial
 * count from the start of its range; `lineOffset` is the number of physical lines before it.
 * Exact only when mergeIsExact(agg, p) said so before.
 */
export function mergePartial(agg: ReportAggregator, p: PartialAggregate, lineOffset: number): void {
  agg.rows += p.rows;
  for (const k of MESSAGE_KINDS) agg.kinds[k] += p.kinds[k];
  agg.wouldReject += p.wouldReject;
  agg.whatIfReject += p.whatIfReject;
  agg.headerFromWouldReject += p.headerFromWouldReject;
  agg.firstMs = minOf(agg.firstMs, p.firstMs);
  agg.lastMs = maxOf(agg.lastMs, p.lastMs);
  for (const [day, counts] of p.days) {
    const have = agg.days.get(day);
    if (have) for (let i = 0; i < counts.length; i++) have[i] += counts[i];
    else agg.days.set(day, counts.slice());
  }
  for (const [file, v] of p.perFile) {
    const have = agg.perFile.get(file);
    if (have) have.rows += v.rows;
    else agg.perFile.set(file, { format: v.format, rows: v.rows });
  }
  for (const s of p.samples) {
    if (agg.samples.length < MAX_SAMPLE_MESSAGES) agg.samples.push({ ...s, line: s.line + lineOffset });
    else agg.samplesDropped++;
  }
  agg.samplesDropped += p.samplesDropped;
  if (p.sourcesOverflowed) agg.sourcesOverflowed = true;
  for (const [ip, bits] of p.otherMailAgainst) {
    const a = agg.otherMailAgainst.get(ip);
    if (a !== undefined) agg.otherMailAgainst.set(ip, a | bits);
    else if (agg.otherMailAgainst.size < MAX_SOURCES) agg.otherMailAgainst.set(ip, bits);
  }
  for (const sender of p.internalSenders) if (agg.internalSenders.size < MAX_INTERNAL_SENDERS) agg.internalSenders.add(sender);
  mergeSources(agg, p.sources);
}

/**
 * A source only this partial has, rebuilt as one of this thread's own: a new source with the
 * clone merged into it (which gives exactly the clone's counts, lists and order). Taking the
 * clone over as it is cost a few hundred bytes more per source (issue 17): a structured clone
 * copies a string each time it is referenced, so the keys that tens of thousands of sources share
 * (senders, domains, days, networks) and the IP that is also the key came as copies per source,
 * and the deserialised objects keep their fields out of line. The clone is garbage afterwards.
 */
function adopt(b: SourceStats): SourceStats {
  const s = newSource(b.key, b.ip === null ? null : b.key === b.ip ? b.key : intern(b.ip));
  mergeSource(s, b);
  return s;
}
