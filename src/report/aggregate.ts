// Streaming aggregation: rows go in one at a time and are forgotten; what stays is per kind, per
// day and per source, every list capped, so memory does not grow with the number of rows
// (issue 5 "memory stays bounded however large the input").
import type { Classification, Classifier, MessageKind } from './classify.ts';
import { MESSAGE_KINDS, domainOfAddress } from './classify.ts';
import type { ReportRow } from './types.ts';
import { detach } from './detach.ts';
import { countRecipients, isAgainstStatus } from './source-signals.ts';

const DAY_MS = 86_400_000;
/** Sources beyond this many are folded into one "(other sources)" entry. */
export const MAX_SOURCES = 20_000;
export const MAX_RECIPIENTS = 100;
export const MAX_SUBJECTS = 5;
export const MAX_SAMPLE_MESSAGES = 500;

/**
 * A counter of at most `cap` keys; the rest count together as "(other)". When more than `cap`
 * keys come, the alphabetically first ones are kept (not the first seen): that choice does not
 * depend on the order of the rows, so partial counts of parts of a file merge into exactly the
 * counts of the whole (merge-aggregate.ts). Kept keys stay in first-seen order.
 */
export class CappedCounts {
  readonly counts = new Map<string, number>();
  readonly cap: number;
  /** Rows whose key is not kept. */
  other = 0;
  /** The largest kept key (public so that a structured clone keeps it: merge-aggregate.ts). */
  maxKey: string | null = null;
  constructor(cap: number) { this.cap = cap; }
  add(key: string | null | undefined, n = 1): void {
    if (key === null || key === undefined || key === '') return;
    const counts = this.counts;
    const have = counts.get(key);
    if (have !== undefined) { counts.set(key, have + n); return; }
    if (counts.size < this.cap) {
      const k = detach(key);
      counts.set(k, n);
      if (this.maxKey === null || k > this.maxKey) this.maxKey = k;
      return;
    }
    const max = this.maxKey;
    if (max === null || key > max) { this.other += n; return; }
    this.other += counts.get(max) ?? 0;
    counts.delete(max);
    counts.set(detach(key), n);
    let next: string | null = null;
    for (const k of counts.keys()) if (next === null || k > next) next = k;
    this.maxKey = next;
  }
  /** Keys by count (then name), "(other)" among them when some rows were not kept. */
  top(n: number): Array<[string, number]> {
    const all = [...this.counts];
    if (this.other > 0) all.push(['(other)', this.other]);
    return all.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
  }
  /** Kept keys, plus one for "(other)". */
  get size(): number { return this.counts.size + (this.other > 0 ? 1 : 0); }
}

export function kindCounts(): Record<MessageKind, number> {
  return { 'direct-send': 0, 'header-from': 0, connector: 0, internal: 0, external: 0 };
}

export interface SourceStats {
  key: string;
  ip: string | null;
  network: string | null;
  rows: number;
  kinds: Record<MessageKind, number>;
  wouldReject: number;
  whatIfReject: number;
  firstMs: number | null;
  lastMs: number | null;
  days: CappedCounts;
  helos: CappedCounts;
  ptrs: CappedCounts;
  p1Domains: CappedCounts;
  p1Addresses: CappedCounts;
  p2Domains: CappedCounts;
  recipients: Set<string>;
  recipientsCapped: boolean;
  subjects: string[];
  lureRows: number;
  spf: CappedCounts;
  dkim: CappedCounts;
  dmarc: CappedCounts;
  compauth: CappedCounts;
  /** The export's own verdicts against this source's messages (Quarantined, FilteredAsSpam, …). */
  verdicts: CappedCounts;
  /** Threats named by the export (Defender ThreatTypes, antispam CAT/SFV). */
  threats: CappedCounts;
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
  connectors: CappedCounts;
  certificateNames: CappedCounts;
  rejectCodes: CappedCounts;
}

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

export function newSource(key: string, ip: string | null): SourceStats {
  const c = (cap: number): CappedCounts => new CappedCounts(cap);
  return {
    key, ip, network: networkOf(ip), rows: 0, kinds: kindCounts(), wouldReject: 0, whatIfReject: 0,
    firstMs: null, lastMs: null, days: c(400), helos: c(20), ptrs: c(20),
    p1Domains: c(50), p1Addresses: c(20), p2Domains: c(50),
    recipients: new Set(), recipientsCapped: false, subjects: [], lureRows: 0,
    spf: c(10), dkim: c(10), dmarc: c(10), compauth: c(10),
    verdicts: c(10), threats: c(10), maxRecipientsPerMessage: 0, recentMessages: { keys: [], counts: [] },
    srsRows: 0, arcRows: 0, heloBracketed: 0, heloOwnDomain: 0,
    connectors: c(10), certificateNames: c(10), rejectCodes: c(4),
  };
}


/**
 * Parallel arrays, oldest first: a message's key (a hash of its Message-ID, else of its time and
 * subject: numbers, so that nothing here allocates or pins an input chunk per row) and its
 * recipients so far.
 */
export interface RecentMessages { keys: number[]; counts: number[] }
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
  #lastFile: { name: string; entry: { format: string; rows: number } } | null = null;
  #lastDay = NaN;
  #lastDayCounts: number[] | undefined;
  #dayKeyOf = NaN;
  #dayKey = '';
  readonly #lureCache = new Map<string, boolean>();

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
    this.#lastFile = null; this.#lastDay = NaN; this.#lastDayCounts = undefined;
  }

  add(row: ReportRow, c: Classification, w: Classification | null): void {
    this.rows++;
    this.kinds[c.kind]++;
    if (c.wouldReject) this.wouldReject++;
    if (w?.wouldReject) this.whatIfReject++;
    if (c.kind === 'header-from') this.headerFromWouldReject++;
    // Rows come file by file and in time order: the last file and day are usually this row's.
    let file = this.#lastFile?.name === row.origin.file ? this.#lastFile.entry : this.perFile.get(row.origin.file);
    if (file) file.rows++;
    else { file = { format: row.origin.format, rows: 1 }; this.perFile.set(row.origin.file, file); }
    this.#lastFile = { name: row.origin.file, entry: file };
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
    const lower = p1.toLowerCase();
    if (!this.internalSenders.has(lower)) this.internalSenders.add(detach(lower));
  }

  /** LURE_SUBJECT per distinct subject: bulk exports repeat a few subjects millions of times. */
  #isLure(subject: string): boolean {
    let hit = this.#lureCache.get(subject);
    if (hit === undefined) {
      hit = LURE_SUBJECT.test(subject);
      if (this.#lureCache.size >= 10_000) this.#lureCache.clear();
      this.#lureCache.set(detach(subject), hit);
    }
    return hit;
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
    s.kinds[c.kind]++;
    if (c.wouldReject) { s.wouldReject++; s.rejectCodes.add(c.rejectCode); }
    if (w?.wouldReject) s.whatIfReject++;
    const t = row.timeMs;
    if (t !== null) {
      if (s.firstMs === null || t < s.firstMs) s.firstMs = t;
      if (s.lastMs === null || t > s.lastMs) s.lastMs = t;
      const day = Math.floor(t / DAY_MS);
      if (day !== this.#dayKeyOf) { this.#dayKeyOf = day; this.#dayKey = String(day); }
      s.days.add(this.#dayKey);
    }
    const helo = row.helo;
    if (helo) {
      s.helos.add(helo);
      if (helo.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(helo)) s.heloBracketed++;
      else if (this.#ownDomain(helo.toLowerCase())) s.heloOwnDomain++;
    }
    s.ptrs.add(row.ptr);
    s.p1Domains.add(domainOfAddress(row.p1) ?? (row.p1 === '' ? '<>' : null));
    s.p1Addresses.add(row.p1?.toLowerCase());
    const p1 = row.p1;
    if (p1 && (p1.charCodeAt(0) | 32) === 115 && /^srs[01][=+-]/i.test(p1)) s.srsRows++;
    if (row.p2) for (const a of row.p2) s.p2Domains.add(domainOfAddress(a));
    for (const r of row.recipients) {
      const lower = r.toLowerCase();
      if (s.recipients.has(lower)) continue;
      if (s.recipients.size < MAX_RECIPIENTS) s.recipients.add(detach(lower));
      else s.recipientsCapped = true;
    }
    const subject = row.subject;
    if (subject) {
      if (s.subjects.length < MAX_SUBJECTS) {
        const kept = subject.length > 200 ? subject.slice(0, 200) : subject;
        if (!s.subjects.includes(kept)) s.subjects.push(detach(kept));
      }
      if (this.#isLure(subject)) s.lureRows++;
    }
    s.spf.add(row.spf);
    s.dkim.add(row.dkim);
    s.dmarc.add(row.dmarc);
    if (row.status && isAgainstStatus(row.status)) s.verdicts.add(row.status.split(/[:(]/)[0].trim());
    if (row.threats) s.threats.add(row.threats);
    if (row.recipients.length) countRecipients(s, row);
    s.compauth.add(row.compauth);
    if (row.arc && row.arc !== 'none') s.arcRows++;
    s.connectors.add(c.connector);
    s.certificateNames.add(row.certificateName);
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
