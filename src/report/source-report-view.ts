// A source's part of the report model (SourceReport), made from its SourceStats and its label.
// The CLI's model (ReportRun.finish({ releaseSources: true })) holds each source as a view that
// makes a field when it is read: a text report reads a few fields of twenty sources, and a JSON
// report makes each source's object while it writes it, so the model of tens of thousands of
// sources (about 2 KB each made whole, twice what the source's own counters take) is never all in
// memory at once (issue 17). The view is not plain data: a model that crosses a thread (the web
// API's report worker) is made of plain objects (sourceReport()).
import type { CappedCounts, SourceStats } from './source-stats.ts';
import type { SourceReport } from './build-report.ts';
import type { LabelledSource } from './labels.ts';
import { distinctCount, isEstimate } from './distinct.ts';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const dayTexts = new Map<number, string>();
/** YYYY-MM-DD of a day number, made once per day (tens of thousands of sources share a few hundred days). */
export function dayText(day: number): string {
  let text = dayTexts.get(day);
  if (text === undefined) {
    text = new Date(day * 86_400_000).toISOString().slice(0, 10);
    if (dayTexts.size < 100_000) dayTexts.set(day, text);
  }
  return text;
}
// Empty lists and records are one shared, frozen value: a message trace leaves most of them
// empty for tens of thousands of sources, and the report is only read once built.
export const NONE: never[] = Object.freeze([]) as unknown as never[];
const NO_RECORD: Record<string, number> = Object.freeze({});
const keys = (c: CappedCounts, n: number): string[] => (c.size === 0 ? NONE : c.top(n).map(([k]) => k));
const record = (c: CappedCounts): Record<string, number> => (c.size === 0 ? NO_RECORD : Object.fromEntries(c.top(c.cap)));

/** Rows per day, oldest first (day numbers sort as their dates do). */
function volumeOf(s: SourceStats): Array<{ day: string; rows: number }> {
  const e = s.days.entries;
  if (e === null) return [];
  const days: Array<[number, number]> = [];
  for (let i = 0; i < e.length; i += 2) days.push([Number(e[i]), e[i + 1] as number]);
  return days.sort((a, b) => a[0] - b[0]).map(([d, n]) => ({ day: dayText(d), rows: n }));
}

/**
 * SourceReport read from a source and its label, each field made when read (a fresh value per
 * read for lists). toJSON() gives the plain object, fields in SourceReport's order, which is what
 * JSON.stringify writes for it.
 */
export class SourceReportView implements SourceReport {
  readonly #s: SourceStats;
  readonly #l: LabelledSource;
  readonly #hasWhatIf: boolean;
  constructor(s: SourceStats, l: LabelledSource, hasWhatIf: boolean) {
    this.#s = s;
    this.#l = l;
    this.#hasWhatIf = hasWhatIf;
  }
  get key() { return this.#s.key; }
  get ip() { return this.#s.ip; }
  get network() { return this.#s.network; }
  get label() { return this.#l.label; }
  get reasons() { return this.#l.reasons; }
  get evidenceFor() { return this.#l.evidenceFor.length ? this.#l.evidenceFor : NONE; }
  get evidenceAgainst() { return this.#l.evidenceAgainst.length ? this.#l.evidenceAgainst : NONE; }
  get facts() { return this.#l.facts; }
  get rows() { return this.#s.rows; }
  get kinds() { return this.#s.kinds; }
  get wouldReject() { return this.#s.wouldReject; }
  get whatIfReject() { return this.#hasWhatIf ? this.#s.whatIfReject : null; }
  get firstSeen() { return iso(this.#s.firstMs); }
  get lastSeen() { return iso(this.#s.lastMs); }
  get days() { return this.#s.days.size; }
  get volume() { return volumeOf(this.#s); }
  get recipients() { return distinctCount(this.#s.recipients); }
  get recipientsEstimated() { return isEstimate(this.#s.recipients); }
  get helos() { return keys(this.#s.helos, 5); }
  get ptrs() { return keys(this.#s.ptrs, 5); }
  get p1Domains() { const c = this.#s.p1Domains; return c.size === 0 ? NONE : c.top(10); }
  get p2Domains() { const c = this.#s.p2Domains; return c.size === 0 ? NONE : c.top(10); }
  get senders() { return keys(this.#s.p1Addresses, 5); }
  get subjects() { return this.#s.subjects; }
  get auth() { const s = this.#s; return { spf: record(s.spf), dmarc: record(s.dmarc), compauth: record(s.compauth) }; }
  get connectors() { return keys(this.#s.connectors, 5); }
  get certificateNames() { return keys(this.#s.certificateNames, 5); }
  get rejectCodes() { return keys(this.#s.rejectCodes, 4); }

  toJSON(): SourceReport {
    return {
      key: this.key, ip: this.ip, network: this.network, label: this.label, reasons: this.reasons,
      evidenceFor: this.evidenceFor, evidenceAgainst: this.evidenceAgainst, facts: this.facts, rows: this.rows, kinds: this.kinds,
      wouldReject: this.wouldReject, whatIfReject: this.whatIfReject,
      firstSeen: this.firstSeen, lastSeen: this.lastSeen, days: this.days,
      volume: this.volume,
      recipients: this.recipients, recipientsEstimated: this.recipientsEstimated,
      helos: this.helos, ptrs: this.ptrs, p1Domains: this.p1Domains, p2Domains: this.p2Domains,
      senders: this.senders, subjects: this.subjects,
      auth: this.auth,
      connectors: this.connectors, certificateNames: this.certificateNames, rejectCodes: this.rejectCodes,
    };
  }
}

/** A source's part of the model as a plain object (what the view's toJSON() gives). */
export function sourceReport(s: SourceStats, l: LabelledSource, hasWhatIf: boolean): SourceReport {
  return new SourceReportView(s, l, hasWhatIf).toJSON();
}
