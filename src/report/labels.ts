// Evidence before advice (issue 12, SPEC §11). A source is `authorised` only with positive
// evidence that it may send as the organization: its IP is in the sending domain's SPF record,
// DMARC passed for one of our domains in the export, or the administrator named it
// (--known-sender). Any signal against (the export's own spam/quarantine verdict, named threats,
// a real mailbox used from a foreign IP, fan-out, lure subjects, HELO claiming our domain, many
// senders in a burst) makes it `suspicious`, whatever evidence it also has. Everything else is
// `unknown`: the facts are shown and the administrator decides. Pure.
import ipaddr from 'ipaddr.js';
import type { SourceStats } from './aggregate.ts';
import type { CappedCounts } from './source-stats.ts';
import { OTHER_MAIL_HELO, OTHER_MAIL_LURE, OTHER_MAIL_THREAT, OTHER_MAIL_VERDICT } from './aggregate.ts';
import { spfCoverage } from './spf-coverage.ts';
import type { SpfTable } from './spf-coverage.ts';

export type SourceLabel = 'authorised' | 'suspicious' | 'forwarder' | 'unknown';

/** One piece of positive evidence, with the range it vouches for (a connector's IP list). */
export interface EvidenceFor {
  kind: 'spf' | 'dmarc' | 'known-sender';
  text: string;
  /** The CIDR the evidence supports: the SPF mechanism's, the administrator's, or null (the addresses seen). */
  range: string | null;
  /** What the range is called in a connector name (the known sender's label, the SPF domain). */
  rangeName: string | null;
}

export interface LabelledSource {
  label: SourceLabel;
  /** One line per reason, for tables: the evidence for, the signals against, or the facts. */
  reasons: string[];
  evidenceFor: EvidenceFor[];
  evidenceAgainst: string[];
  facts: string[];
}

export interface KnownSender { cidr: string; label: string }

export interface EvidenceContext {
  spf: SpfTable;
  knownSenders: readonly KnownSender[];
  /** Lower-cased addresses seen sending internally or outbound in the same input. */
  internalSenders: ReadonlySet<string>;
  /** Signals against IPs found in their ordinary mail (aggregate.ts). */
  otherMailAgainst?: ReadonlyMap<string, number>;
}

/** One message to this many recipients or more is fan-out, not a device or an application. */
export const FANOUT_RECIPIENTS = 10;

export function emptyEvidenceContext(): EvidenceContext {
  return { spf: { records: new Map(), addresses: new Map(), mx: new Map() }, knownSenders: [], internalSenders: new Set() };
}

function share(n: number, of: number): number {
  return of === 0 ? 0 : n / of;
}

function count(map: CappedCounts, ...keys: string[]): number {
  let n = 0;
  for (const k of keys) n += map.get(k);
  return n;
}

const total = (map: CappedCounts): number => map.total();

const list = (m: CappedCounts): string => [...m.counts].map(([k, v]) => `${k} ${v}`).join(', ');

/** --known-sender IP|CIDR=label -> entries; a string names the bad value. */
export function parseKnownSenders(values: readonly string[]): KnownSender[] | string {
  const out: KnownSender[] = [];
  for (const v of values) {
    const eq = v.indexOf('=');
    const cidr = (eq > 0 ? v.slice(0, eq) : v).trim();
    const label = eq > 0 ? v.slice(eq + 1).trim() : '';
    try {
      const [addr, len] = cidr.includes('/') ? ipaddr.parseCIDR(cidr) : [ipaddr.parse(cidr), cidr.includes(':') ? 128 : 32];
      out.push({ cidr: `${addr.toString()}/${len}`, label: label || cidr });
    } catch {
      return `--known-sender: expected IP or CIDR, optionally =label, got ${JSON.stringify(v.slice(0, 80))}`;
    }
  }
  return out;
}

function knownSenderOf(ip: string | null, known: readonly KnownSender[]): KnownSender | null {
  if (!ip || known.length === 0) return null;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try { addr = ipaddr.process(ip); } catch { return null; }
  for (const k of known) {
    const [net, len] = ipaddr.parseCIDR(k.cidr);
    if (net.kind() === addr.kind() && addr.match(net, len)) return k;
  }
  return null;
}

/**
 * The signals against a source, one rule each: whether it applies is all the label needs, and its
 * sentence is made only when somebody reads it (a report over a big trace labels tens of thousands
 * of sources and shows a few dozen; the sentences were most of the labelling's time, issue 17).
 */
interface SignalAgainst {
  applies(s: SourceStats, ctx: EvidenceContext): boolean;
  text(s: SourceStats, ctx: EvidenceContext): string;
}

const realMailboxes = (s: SourceStats, ctx: EvidenceContext): string[] => s.p1Addresses.keys().filter((a) => ctx.internalSenders.has(a));
const otherMail = (s: SourceStats, ctx: EvidenceContext): number => (s.ip ? ctx.otherMailAgainst?.get(s.ip) ?? 0 : 0);

const SIGNALS_AGAINST: readonly SignalAgainst[] = [
  { applies: (s) => total(s.verdicts) > 0, text: (s) => `the export's own verdict: ${list(s.verdicts)}` },
  { applies: (s) => total(s.threats) > 0, text: (s) => `threats named by the export: ${list(s.threats)}` },
  {
    applies: (s, ctx) => s.p1Addresses.keys().some((a) => ctx.internalSenders.has(a)),
    text: (s, ctx) => `${realMailboxes(s, ctx).slice(0, 3).join(', ')} is a real mailbox (it sends internally or outbound in this input) used here from the foreign IP ${s.ip ?? s.key}`,
  },
  { applies: (s) => s.maxRecipientsPerMessage >= FANOUT_RECIPIENTS, text: (s) => `fan-out: one message to ${s.maxRecipientsPerMessage} recipients` },
  { applies: (s) => s.lureRows > 0, text: (s) => `lure subjects (${s.lureRows}): ${s.subjects.slice(0, 2).map((x) => JSON.stringify(x.slice(0, 60))).join(', ')}` },
  { applies: (s) => s.heloOwnDomain > 0, text: () => 'HELO claims one of our own domains from a foreign IP' },
  { applies: (s) => s.p1Addresses.size >= 20 && s.days.size <= 2, text: (s) => `${s.p1Addresses.size}+ different senders in ${s.days.size} day(s)` },
  {
    applies: (s, ctx) => otherMail(s, ctx) !== 0,
    text: (s, ctx) => {
      const other = otherMail(s, ctx);
      const parts = [other & OTHER_MAIL_VERDICT && "the export's verdict against it", other & OTHER_MAIL_THREAT && 'named threats',
        other & OTHER_MAIL_LURE && 'lure subjects', other & OTHER_MAIL_HELO && 'a HELO claiming our domain'].filter(Boolean);
      return `this IP's other mail has ${parts.join(', ')}`;
    },
  },
];

function signalsAgainst(s: SourceStats, ctx: EvidenceContext): string[] {
  return SIGNALS_AGAINST.filter((r) => r.applies(s, ctx)).map((r) => r.text(s, ctx));
}

function evidenceFor(s: SourceStats, ctx: EvidenceContext, ours: (d: string) => boolean): EvidenceFor[] {
  const found: EvidenceFor[] = [];
  const known = knownSenderOf(s.ip, ctx.knownSenders);
  if (known) found.push({ kind: 'known-sender', text: `named by the administrator: --known-sender ${known.cidr}=${known.label}`, range: known.cidr, rangeName: known.label });
  const p1Domains = s.p1Domains.keys();
  // With no SPF record known no address is covered: the per-source lookup is skipped.
  if (s.ip && ctx.spf.records.size > 0 && p1Domains.length && s.p1Domains.other === 0 && !p1Domains.includes('<>')) {
    const cover = p1Domains.map((d) => spfCoverage(ctx.spf, d, s.ip!));
    if (cover.every((c) => c.covered)) {
      const first = cover[0] as Extract<typeof cover[number], { covered: true }>;
      found.push({ kind: 'spf', text: `SPF: ${s.ip} is authorised by ${p1Domains.join(', ')} (${first.mechanism}, range ${first.cidr})`, range: first.cidr, rangeName: first.domain });
    }
  }
  const p2Domains = s.p2Domains.keys();
  const p2Ours = p2Domains.length > 0 && s.p2Domains.other === 0 && p2Domains.every(ours);
  const dmarcStated = total(s.dmarc);
  const dmarcPass = count(s.dmarc, 'pass');
  if (p2Ours && dmarcPass > 0 && dmarcPass === dmarcStated) {
    found.push({ kind: 'dmarc', text: `DMARC pass for ${p2Domains.join(', ')} on ${dmarcPass} of ${dmarcStated} message(s) that state it`, range: null, rangeName: null });
  } else if (p2Ours && dmarcStated === 0 && count(s.dkim, 'pass') > 0 && count(s.dkim, 'pass') === total(s.dkim)
    && count(s.compauth, 'pass') === total(s.compauth) && total(s.compauth) > 0) {
    found.push({ kind: 'dmarc', text: `DKIM pass and compauth pass for ${p2Domains.join(', ')} on every message that states them`, range: null, rangeName: null });
  }
  return found;
}

function factsOf(s: SourceStats): string[] {
  const facts: string[] = [];
  const rows = s.rows;
  const spfFail = count(s.spf, 'fail', 'softfail');
  if (share(spfFail, rows) > 0.5) facts.push(`SPF fail/softfail on ${spfFail} of ${rows}`);
  const dmarcFail = count(s.dmarc, 'fail');
  if (share(dmarcFail, rows) > 0.5) facts.push(`DMARC fail on ${dmarcFail} of ${rows}`);
  const compFail = count(s.compauth, 'fail');
  if (share(compFail, rows) > 0.5) facts.push(`compauth fail on ${compFail} of ${rows}`);
  if (share(s.heloBracketed, rows) > 0.5) facts.push('HELO is a bare or bracketed IP address');
  facts.push(`${rows} message(s) on ${s.days.size} day(s) from ${s.p1Addresses.keys().slice(0, 3).join(', ') || 'no envelope sender'}`);
  if (rows < 5) facts.push('too few messages to see a pattern');
  return facts;
}

export function labelSource(s: SourceStats, ctx: EvidenceContext = emptyEvidenceContext(), ours: (d: string) => boolean = () => false): LabelledSource {
  const evidence = evidenceFor(s, ctx, ours);
  if (SIGNALS_AGAINST.some((r) => r.applies(s, ctx))) return new Label(s, ctx, 'suspicious', evidence, null);
  const forwarder: string[] = [];
  if (share(s.srsRows, s.rows) > 0.5) forwarder.push('envelope sender rewritten with SRS');
  if (share(s.arcRows, s.rows) > 0.5) forwarder.push('ARC seals present: relayed by an intermediary');
  if (forwarder.length) return new Label(s, ctx, 'forwarder', evidence, [...forwarder, 'no connector: ask the forwarder for SRS, or trust its ARC seal (SPEC §9)']);
  if (evidence.length) return new Label(s, ctx, 'authorised', evidence, evidence.map((e) => e.text));
  return new Label(s, ctx, 'unknown', evidence, null);
}

/**
 * A source's label, decided at once; the sentences against it and its facts are made on first
 * read and kept (see SIGNALS_AGAINST). `reasons` given as null are the signals against
 * (suspicious) or the facts (unknown).
 */
class Label implements LabelledSource {
  readonly label: SourceLabel;
  readonly evidenceFor: EvidenceFor[];
  readonly #source: SourceStats;
  readonly #ctx: EvidenceContext;
  #reasons: string[] | null;
  #against: string[] | null = null;
  #facts: string[] | null = null;

  constructor(source: SourceStats, ctx: EvidenceContext, label: SourceLabel, evidence: EvidenceFor[], reasons: string[] | null) {
    this.#source = source;
    this.#ctx = ctx;
    this.label = label;
    this.evidenceFor = evidence;
    this.#reasons = reasons;
  }

  get evidenceAgainst(): string[] { return this.#against ??= signalsAgainst(this.#source, this.#ctx); }
  get facts(): string[] { return this.#facts ??= factsOf(this.#source); }
  get reasons(): string[] {
    return this.#reasons ??= this.label === 'suspicious' ? this.evidenceAgainst : ['unknown: decide (no evidence of authorisation)', ...this.facts];
  }
}
