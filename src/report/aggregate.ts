// Streaming aggregation: rows go in one at a time and are forgotten; what stays is per kind, per
// day and per source, every list capped, so memory does not grow with the number of rows
// (issue 5 "memory stays bounded however large the input").
import type { Classification, Classifier, MessageKind } from './classify.ts';
import { MESSAGE_KINDS, domainOfAddress, lowerCase } from './classify.ts';
import type { ReportRow } from './types.ts';
import { detach } from './detach.ts';
import { addHash, hashFolded } from './distinct.ts';
import { countRecipients, isAgainstStatus } from './source-signals.ts';
import { countIn, countKind, kindCounts, newSource } from './source-stats.ts';
import { MAX_SUBJECT_LENGTH, packedCount, packedHas, packedWith } from './source-subjects.ts';
import type { SourceStats } from './source-stats.ts';

export { CappedCounts, kindCounts, networkOf, newSource } from './source-stats.ts';
export type { RecentMessages, SourceStats } from './source-stats.ts';

const DAY_MS = 86_400_000;
/** Sources beyond this many are folded into one "(other sources)" entry. */
export const MAX_SOURCES = 100_000;
export const MAX_SUBJECTS = 5;
export const MAX_SAMPLE_MESSAGES = 500;

/** Senders remembered as seen internally or outbound (a real person's mailbox, issue 12). */
export const MAX_INTERNAL_SENDERS = 100_000;

/**
 * Voicemail, fax and QR lures are the usual Direct Send phish (issue 5); wire transfers, gift
 * cards, "are you at your desk" and payroll changes the usual CEO fraud (issue 12). Words a
 * printer or an application also uses ("scan", "document", "invoice") are left out on purpose.
 */
export const LURE_SUBJECT = /voice ?mail|voice message|\bvm\b|missed call|\bfax\b|e-?fax|\bqr\b|qr[- ]?code|\bscan (?:the|this) code|\bwire\b|wire transfer|gift ?cards?|\bfavou?r\b|at your desk|\burgent\b|payroll|direct deposit|bank (?:details|account)|password (?:expir|reset)|verify your (?:account|mailbox|identity)|account (?:suspended|locked|will be)|mailbox (?:full|quota|storage)/i;


/** Signals against an IP found in its other mail (ReportAggregator.otherMailAgainst). */
export const OTHER_MAIL_LURE = 1;
export const OTHER_MAIL_VERDICT = 2;
export const OTHER_MAIL_THREAT = 4;
export const OTHER_MAIL_HELO = 8;

export interface MessageSample {
  file: string;
  line: number;
  timeMs: number | null;
  kind: MessageKind;
  reason: string;
  sourceIp: string | null;
  p1: string | null;
  p2: string[] | null;
  subject: string | null;
  wouldReject: boolean;
  whatIfReject: boolean | null;
  evidence: ReportRow['evidence'];
}

export class ReportAggregator {
  rows = 0;
  readonly kinds = kindCounts();
  wouldReject = 0;
  whatIfReject = 0;
  headerFromWouldReject = 0;
  firstMs: number | null = null;
  lastMs: number | null = null;
  /** day number -> counts per kind, in MESSAGE_KINDS order. */
  readonly days = new Map<number, number[]>();
  readonly sources = new Map<string, SourceStats>();
  /** Lower-cased P1 addresses of internal and outbound rows (capped): who has a real mailbox. */
  readonly internalSenders = new Set<string>();
  /**
   * Signals against an IP seen in its ordinary (external or internal) mail, which is not kept per
   * source: a lure or a quarantine there still speaks against the same IP's Direct Send.
   * Only IPs with a signal are kept, as a bit set of OTHER_MAIL_* (no object per IP), capped.
   */
  readonly otherMailAgainst = new Map<string, number>();
  readonly perFile = new Map<string, { format: string; rows: number }>();
  readonly samples: MessageSample[] = [];
  samplesDropped = 0;
  /** A source was folded into "(other sources)". */
  sourcesOverflowed = false;
  readonly #ownDomain: (d: string | null) => boolean;
  // The last file's name and entry, as two fields: an object here was one more allocation per row.
  #lastFileName: string | null = null;
  #lastFileEntry: { format: string; rows: number } | null = null;
  #lastDay = NaN;
  #lastDayCounts: number[] | undefined;
  #dayKeyOf = NaN;
  #dayKey = '';

  constructor(isAccepted: (domain: string | null) => boolean) {
    this.#ownDomain = isAccepted;
  }

  isEmpty(): boolean {
    return this.rows === 0 && this.sources.size === 0 && this.perFile.size === 0 && this.samples.length === 0;
  }

  /** Back to the state of a new aggregator. */
  clear(): void {
    this.rows = 0;
    for (const k of MESSAGE_KINDS) this.kinds[k] = 0;
    this.wouldReject = 0; this.whatIfReject = 0; this.headerFromWouldReject = 0;
    this.firstMs = null; this.lastMs = null;
    this.days.clear(); this.sources.clear(); this.perFile.clear(); this.internalSenders.clear(); this.otherMailAgainst.clear();
    this.samples.length = 0; this.samplesDropped = 0; this.sourcesOverflowed = false;
    this.#lastFileName = null; this.#lastFileEntry = null; this.#lastDay = NaN; this.#lastDayCounts = undefined;
  }

  add(row: ReportRow, c: Classification, w: Classification | null): void {
    this.rows++;
    this.kinds[c.kind]++;
    if (c.wouldReject) this.wouldReject++;
    if (w?.wouldReject) this.whatIfReject++;
    if (c.kind === 'header-from') this.headerFromWouldReject++;
    // Rows come file by file and in time order: the last file and day are usually this row's.
    const name = row.origin.file;
    let file = this.#lastFileName === name ? this.#lastFileEntry : this.perFile.get(name);
    if (file) file.rows++;
    else { file = { format: row.origin.format, rows: 1 }; this.perFile.set(name, file); }
    this.#lastFileName = name;
    this.#lastFileEntry = file;
    const t = row.timeMs;
    if (t !== null) {
      if (this.firstMs === null || t < this.firstMs) this.firstMs = t;
      if (this.lastMs === null || t > this.lastMs) this.lastMs = t;
      const day = Math.floor(t / DAY_MS);
      let counts = day === this.#lastDay ? this.#lastDayCounts : this.days.get(day);
      if (!counts) { counts = [0, 0, 0, 0, 0]; this.days.set(day, counts); }
      this.#lastDay = day;
      this.#lastDayCounts = counts;
      counts[MESSAGE_KINDS.indexOf(c.kind)]++;
    }
    if (c.kind === 'internal') this.#addInternalSender(row.p1);
    if (c.kind === 'internal' || c.kind === 'external') { if (row.sourceIp) this.#noteOtherMail(row, row.sourceIp); return; }
    this.#addSample(row, c, w);
    this.#addToSource(row, c, w);
  }

  #noteOtherMail(row: ReportRow, ip: string): void {
    let bits = 0;
    if (row.subject && this.#isLure(row.subject)) bits |= OTHER_MAIL_LURE;
    if (row.status !== null && isAgainstStatus(row.status)) bits |= OTHER_MAIL_VERDICT;
    if (row.threats) bits |= OTHER_MAIL_THREAT;
    if (row.helo !== null && this.#ownDomain(row.helo.toLowerCase())) bits |= OTHER_MAIL_HELO;
    if (bits === 0) return;
    const have = this.otherMailAgainst.get(ip);
    if (have === undefined) {
      if (this.otherMailAgainst.size < MAX_SOURCES) this.otherMailAgainst.set(detach(ip), bits);
    } else if ((have | bits) !== have) this.otherMailAgainst.set(ip, have | bits);
  }

  #addInternalSender(p1: string | null): void {
    if (!p1 || this.internalSenders.size >= MAX_INTERNAL_SENDERS) return;
    const lower = lowerCase(p1);
    if (!this.internalSenders.has(lower)) this.internalSenders.add(detach(lower));
  }

  /**
   * LURE_SUBJECT, tested every time: a cache per distinct subject paid off when bulk exports
   * repeated a few subjects, but real subjects are mostly distinct, and then copying each new one
   * out of its chunk for the cache cost six times the test itself (issue 17).
   */
  #isLure(subject: string): boolean {
    return LURE_SUBJECT.test(subject);
  }

  #addSample(row: ReportRow, c: Classification, w: Classification | null): void {
    if (this.samples.length >= MAX_SAMPLE_MESSAGES) { this.samplesDropped++; return; }
    this.samples.push({
      file: row.origin.file, line: row.origin.line, timeMs: row.timeMs, kind: c.kind, reason: detach(c.reason),
      sourceIp: detach(row.sourceIp), p1: detach(row.p1), p2: row.p2 ? row.p2.map((a) => detach(a)) : null,
      subject: detach(row.subject), wouldReject: c.wouldReject, whatIfReject: w ? w.wouldReject : null, evidence: row.evidence,
    });
  }

  #addToSource(row: ReportRow, c: Classification, w: Classification | null): void {
    let key = row.sourceIp ?? (row.helo ? `helo ${row.helo}` : '(unknown source)');
    let s = this.sources.get(key);
    if (!s) {
      if (this.sources.size >= MAX_SOURCES) { key = '(other sources)'; this.sourcesOverflowed = true; }
      s = this.sources.get(key);
      if (!s) { key = detach(key); s = newSource(key, key === row.sourceIp ? key : null); this.sources.set(key, s); }
    }
    s.rows++;
    countKind(s, c.kind);
    if (c.wouldReject) { s.wouldReject++; countIn(s, 'rejectCodes', c.rejectCode); }
    if (w?.wouldReject) s.whatIfReject++;
    const t = row.timeMs;
    if (t !== null) {
      if (s.firstMs === null || t < s.firstMs) s.firstMs = t;
      if (s.lastMs === null || t > s.lastMs) s.lastMs = t;
      const day = Math.floor(t / DAY_MS);
      if (day !== this.#dayKeyOf) { this.#dayKeyOf = day; this.#dayKey = String(day); }
      countIn(s, 'days', this.#dayKey);
    }
    const helo = row.helo;
    if (helo) {
      countIn(s, 'helos', helo);
      if (helo.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(helo)) s.heloBracketed++;
      else if (this.#ownDomain(helo.toLowerCase())) s.heloOwnDomain++;
    }
    countIn(s, 'ptrs', row.ptr);
    const p1 = row.p1;
    countIn(s, 'p1Domains', domainOfAddress(p1) ?? (p1 === '' ? '<>' : null));
    countIn(s, 'p1Addresses', p1 === null ? null : lowerCase(p1));
    if (p1 && (p1.charCodeAt(0) | 32) === 115 && /^srs[01][=+-]/i.test(p1)) s.srsRows++;
    if (row.p2) for (const a of row.p2) countIn(s, 'p2Domains', domainOfAddress(a));
    for (const r of row.recipients) addHash(s.recipients, hashFolded(r));
    const subject = row.subject;
    if (subject) {
      const packed = s.subjectsPacked;
      if (packed.length === 0 || packedCount(packed) < MAX_SUBJECTS) {
        const kept = subject.length > MAX_SUBJECT_LENGTH ? subject.slice(0, MAX_SUBJECT_LENGTH) : subject;
        if (!packedHas(packed, kept)) s.subjectsPacked = packedWith(packed, [kept]);
      }
      if (this.#isLure(subject)) s.lureRows++;
    }
    countIn(s, 'spf', row.spf);
    countIn(s, 'dkim', row.dkim);
    countIn(s, 'dmarc', row.dmarc);
    if (row.status && isAgainstStatus(row.status)) countIn(s, 'verdicts', row.status.split(/[:(]/)[0].trim());
    countIn(s, 'threats', row.threats);
    if (row.recipients.length) countRecipients(s, row);
    countIn(s, 'compauth', row.compauth);
    if (row.arc && row.arc !== 'none') s.arcRows++;
    countIn(s, 'connectors', c.connector);
    countIn(s, 'certificateNames', row.certificateName);
  }
}

/** Classifies a batch (and replays it against the what-if set) into an aggregator. */
export function addRows(batch: ReportRow[], now: Classifier, whatIf: Classifier | null, agg: ReportAggregator): void {
  for (let i = 0; i < batch.length; i++) {
    const row = batch[i];
    const c = now.classify(row);
    // The what-if set only changes the answer for traffic that the current set would refuse.
    const w = whatIf ? (c.kind === 'direct-send' || c.kind === 'header-from' || c.kind === 'connector' ? whatIf.classify(row) : c) : null;
    agg.add(row, c, w);
  }
}
