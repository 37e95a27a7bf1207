// One report run: a RowSink that classifies and aggregates rows as they stream in, and the
// finished, render-ready model. Nothing here reads files; the CLI wires inputs to the sink.
import type { CompiledPolicy } from '../policy/compile.ts';
import { ReportAggregator, addRows } from './aggregate.ts';
import type { MessageSample, SourceStats } from './aggregate.ts';
import type { MessageKind } from './classify.ts';
import { Classifier } from './classify.ts';
import { labelSource } from './labels.ts';
import { SourceReportView, dayText, iso, sourceReport } from './source-report-view.ts';
import type { EvidenceContext, EvidenceFor, KnownSender, LabelledSource, SourceLabel } from './labels.ts';
import { buildHeadline } from './headline.ts';
import type { Headline } from './headline.ts';
import { emptySpfTable } from './spf-coverage.ts';
import type { SpfTable } from './spf-coverage.ts';
import type { DateOrder } from './import/dates.ts';
import { recommendConnectors, recommendationsYaml } from './recommend.ts';
import type { ConnectorRecommendation, DmarcPolicy } from './recommend.ts';
import type { InputProblem, ReportRow, RowSink } from './types.ts';

const MAX_PROBLEMS_SHOWN = 100;

export interface ReportContext {
  policy: CompiledPolicy;
  /** `--what-if`: the proposed connector set (accepted domains as in `policy`). */
  whatIf: CompiledPolicy | null;
  dmarc: ReadonlyMap<string, DmarcPolicy>;
  nowMs: number;
  /** SPF records (`--spf`, `--dns`) and `--known-sender` entries: the positive evidence. */
  spf?: SpfTable;
  knownSenders?: readonly KnownSender[];
  /** `--date-format`: the order of slashed dates in every file; null or absent = per file. */
  dateOrder?: DateOrder | null;
}

export interface SourceReport {
  key: string;
  ip: string | null;
  network: string | null;
  label: SourceLabel;
  reasons: string[];
  evidenceFor: EvidenceFor[];
  evidenceAgainst: string[];
  facts: string[];
  rows: number;
  kinds: Record<MessageKind, number>;
  wouldReject: number;
  whatIfReject: number | null;
  firstSeen: string | null;
  lastSeen: string | null;
  days: number;
  volume: Array<{ day: string; rows: number }>;
  /** Distinct recipients: exact up to 100, an estimate (±3.3%) above (recipientsEstimated). */
  recipients: number;
  recipientsEstimated: boolean;
  helos: string[];
  ptrs: string[];
  p1Domains: Array<[string, number]>;
  p2Domains: Array<[string, number]>;
  senders: string[];
  subjects: string[];
  auth: { spf: Record<string, number>; dmarc: Record<string, number>; compauth: Record<string, number> };
  connectors: string[];
  certificateNames: string[];
  rejectCodes: string[];
}

export interface ReportModel {
  generatedAt: string;
  /** The administrator's question answered first: what enforcing would stop and cut off. */
  headline: Headline;
  organization: { acceptedDomains: string[]; connectors: string[]; whatIfConnectors: string[] | null };
  inputs: Array<{ file: string; format: string; rows: number }>;
  problems: { count: number; shown: InputProblem[] };
  totals: {
    rows: number;
    kinds: Record<MessageKind, number>;
    wouldReject: number;
    headerFromWouldReject: number;
    whatIfReject: number | null;
    firstSeen: string | null;
    lastSeen: string | null;
  };
  volume: Array<{ day: string; kinds: Record<MessageKind, number> }>;
  sources: SourceReport[];
  networks: Array<{ network: string; sources: number; rows: number; wouldReject: number }>;
  recommendations: ConnectorRecommendation[];
  policyYaml: string;
  messages: { shown: MessageSample[]; dropped: number };
}

export class ReportRun implements RowSink {
  readonly context: ReportContext;
  readonly aggregator: ReportAggregator;
  readonly #now: Classifier;
  readonly #whatIf: Classifier | null;
  problemCount = 0;
  readonly shownProblems: InputProblem[] = [];
  /** Problems per file: a file with problems and no rows was skipped whole (said in the headline). */
  readonly problemsPerFile = new Map<string, number>();
  onProblem: ((p: InputProblem) => void) | null = null;

  constructor(context: ReportContext) {
    this.context = context;
    this.#now = new Classifier(context.policy, context.nowMs);
    this.#whatIf = context.whatIf ? new Classifier(context.whatIf, context.nowMs) : null;
    this.aggregator = new ReportAggregator((d) => this.#now.isAccepted(d));
  }

  rows(batch: ReportRow[]): void {
    addRows(batch, this.#now, this.#whatIf, this.aggregator);
  }

  /** Problems counted but not listed (beyond what a worker thread kept). */
  countProblems(n: number): void {
    this.problemCount += n;
  }

  problem(p: InputProblem): void {
    this.problemCount++;
    this.problemsPerFile.set(p.file, (this.problemsPerFile.get(p.file) ?? 0) + 1);
    if (this.shownProblems.length < MAX_PROBLEMS_SHOWN) this.shownProblems.push(p);
    this.onProblem?.(p);
  }

  /** The P1 domains of sources that enforcing would reject: whose SPF records `--dns` looks up. */
  spfDomainsNeeded(): string[] {
    const out = new Set<string>();
    for (const s of this.aggregator.sources.values()) {
      if (s.wouldReject > 0) for (const d of s.p1Domains.keys()) if (d !== '<>') out.add(d);
    }
    return [...out].sort();
  }

  /**
   * What labelling reads besides the source: one object for all of a run's sources. A label keeps
   * its context for the sentences it makes when read (labels.ts), so a context made per source
   * (with an empty SPF table of three Maps when --dns is off) stayed alive with each of them:
   * about 670 bytes per source, 54 MB at 80,000 sources (issue 17).
   */
  #labelContext(): EvidenceContext {
    return { spf: this.context.spf ?? emptySpfTable(), knownSenders: this.context.knownSenders ?? [], internalSenders: this.aggregator.internalSenders, otherMailAgainst: this.aggregator.otherMailAgainst };
  }

  /**
   * The render-ready model. With `releaseSources`, for a caller that renders the model in this
   * thread and is then done with the run (the CLI), the sources move from the aggregator into
   * the model, each as a view that makes its fields when read (source-report-view.ts): the
   * counters and the made model of tens of thousands of sources are then never both whole in
   * memory (issue 17). The aggregator then holds no sources, so finish() is called once.
   */
  finish(options: { releaseSources?: boolean } = {}): ReportModel {
    const agg = this.aggregator;
    const hasWhatIf = this.#whatIf !== null;
    const ctx = this.#labelContext();
    const ours = (d: string): boolean => this.#now.isAccepted(d);
    const labelled = [...agg.sources.values()].map((source) => ({ source, label: labelSource(source, ctx, ours) }));
    labelled.sort((a, b) => b.source.wouldReject - a.source.wouldReject || b.source.rows - a.source.rows || a.source.key.localeCompare(b.source.key));
    const networks = new Map<string, { network: string; sources: number; rows: number; wouldReject: number }>();
    for (const { source } of labelled) {
      if (!source.network) continue;
      const n = networks.get(source.network) ?? { network: source.network, sources: 0, rows: 0, wouldReject: 0 };
      n.sources++; n.rows += source.rows; n.wouldReject += source.wouldReject;
      networks.set(source.network, n);
    }
    const recommendations = recommendConnectors(labelled, (d) => this.#now.isAccepted(d), this.context.dmarc);
    const policy = this.context.policy;
    const inputs = [...agg.perFile].map(([file, v]) => ({ file, format: v.format, rows: v.rows }));
    const unread = [...this.problemsPerFile].filter(([file]) => !agg.perFile.has(file)).map(([file, problems]) => ({ file, problems }));
    const headline = buildHeadline(labelled, recommendations, { rows: agg.rows, problems: this.problemCount, unread });
    const sources = sourceReports(labelled, hasWhatIf, options.releaseSources === true ? agg.sources : null);
    return {
      generatedAt: new Date(this.context.nowMs).toISOString(),
      headline,
      organization: {
        acceptedDomains: policy.document.acceptedDomains.map((d) => (d.includeSubdomains ? `${d.domain} (+subdomains)` : d.domain)),
        connectors: policy.document.connectors.map((c) => c.name),
        whatIfConnectors: this.context.whatIf ? this.context.whatIf.document.connectors.map((c) => c.name) : null,
      },
      inputs,
      problems: { count: this.problemCount, shown: this.shownProblems },
      totals: {
        rows: agg.rows, kinds: agg.kinds, wouldReject: agg.wouldReject, headerFromWouldReject: agg.headerFromWouldReject,
        whatIfReject: hasWhatIf ? agg.whatIfReject : null, firstSeen: iso(agg.firstMs), lastSeen: iso(agg.lastMs),
      },
      volume: [...agg.days].sort((a, b) => a[0] - b[0]).map(([day, counts]) => ({
        day: dayText(day),
        kinds: { 'direct-send': counts[0], 'header-from': counts[1], connector: counts[2], internal: counts[3], external: counts[4] },
      })),
      sources,
      networks: [...networks.values()].sort((a, b) => b.wouldReject - a.wouldReject || b.rows - a.rows),
      recommendations,
      policyYaml: recommendationsYaml(recommendations),
      messages: { shown: agg.samples, dropped: agg.samplesDropped },
    };
  }
}

/**
 * Each source's part of the model, in `labelled`'s order. With `release` (the aggregator's
 * sources), each is a view over its source (source-report-view.ts), and the source is taken out
 * of the aggregator and `labelled`: the model is then the one thing that holds it, and what the
 * model makes of it is made when the renderer reads it. Without, plain objects (a model that may
 * be cloned to another thread or kept).
 */
function sourceReports(labelled: Array<{ source: SourceStats; label: LabelledSource } | null>, hasWhatIf: boolean, release: Map<string, SourceStats> | null): SourceReport[] {
  const out: SourceReport[] = [];
  for (let i = 0; i < labelled.length; i++) {
    const { source, label } = labelled[i]!;
    if (release) {
      out.push(new SourceReportView(source, label, hasWhatIf));
      release.delete(source.key);
      labelled[i] = null;
    } else out.push(sourceReport(source, label, hasWhatIf));
  }
  return out;
}
