// The Direct Send report as a service (issue 5, issue 13): the options the CLI and the API share
// (DMARC policies, SPF records, known senders, date order), one run over uploaded exports or over
// the live trace; the API runs it on a worker thread so a big export never stalls the SMTP path.
// Only the report engine's public entry points are used (ReportRun, readInputs, the renderers).
import { Readable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import type { PolicyDocument } from '../config/policy-schema.ts';
import { compilePolicy } from '../policy/compile.ts';
import { ReportRun } from '../report/build-report.ts';
import type { ReportModel } from '../report/build-report.ts';
import type { DateOrder } from '../report/import/dates.ts';
import { parseKnownSenders } from '../report/labels.ts';
import type { KnownSender } from '../report/labels.ts';
import { readInputs } from '../report/read-inputs.ts';
import type { DmarcPolicy } from '../report/recommend.ts';
import { emptySpfTable } from '../report/spf-coverage.ts';
import type { SpfTable } from '../report/spf-coverage.ts';
import { spfTableFromFlags } from '../report/spf-lookup.ts';
import type { TraceRecord } from '../domain/types.ts';
import { openStore } from '../store/open-store.ts';
import type { TraceStore } from '../store/ports.ts';
import { policyFragmentSchema } from './policy-document.ts';
import type { PolicyFragment } from './policy-document.ts';
import { ServiceError } from './service-error.ts';

/** The evidence and reading options, as typed by a person (CLI flags, API fields). */
export interface ReportOptionsText {
  dmarc?: readonly string[];
  spf?: readonly string[];
  knownSenders?: readonly string[];
  dateFormat?: string;
}

export interface ReportOptions {
  dmarc: Map<string, DmarcPolicy>;
  spf: SpfTable;
  knownSenders: KnownSender[];
  dateOrder: DateOrder | null;
}

/** Checks and parses the options; a mistake is a validation_failed ServiceError naming the option. */
export function parseReportOptions(text: ReportOptionsText): ReportOptions {
  const dmarc = new Map<string, DmarcPolicy>();
  for (const v of text.dmarc ?? []) {
    const m = /^([^=\s]+)=(none|quarantine|reject)$/i.exec(v.trim());
    if (!m) throw new ServiceError('validation_failed', `--dmarc: expected DOMAIN=none|quarantine|reject, got ${JSON.stringify(v)}`, 'dmarc');
    dmarc.set(m[1].toLowerCase(), m[2].toLowerCase() as DmarcPolicy);
  }
  const spf = emptySpfTable();
  const badSpf = spfTableFromFlags([...(text.spf ?? [])], spf);
  if (badSpf) throw new ServiceError('validation_failed', badSpf, 'spf');
  const knownSenders = parseKnownSenders(text.knownSenders ?? []);
  if (typeof knownSenders === 'string') throw new ServiceError('validation_failed', knownSenders, 'knownSenders');
  let dateOrder: DateOrder | null = null;
  if (text.dateFormat !== undefined) {
    const v = text.dateFormat.toLowerCase();
    if (v !== 'mdy' && v !== 'dmy') throw new ServiceError('validation_failed', `--date-format: expected mdy (month first, en-US) or dmy (day first, en-GB, de-DE), got ${JSON.stringify(text.dateFormat)}`, 'dateFormat');
    dateOrder = v;
  }
  return { dmarc, spf, knownSenders, dateOrder };
}

/** What one report reads: an uploaded export (bytes), or the live trace from the store. */
export type ReportSource =
  | { kind: 'upload'; name: string; bytes: Uint8Array }
  | { kind: 'live'; store: { url?: string; dataDir: string }; since?: string; limit: number };

export interface ReportRequest {
  /** The organization's policy: its accepted domains and connectors judge every row. */
  policy: PolicyDocument;
  options: ReportOptionsText;
  source: ReportSource;
  nowMs: number;
  /**
   * Sources and networks listed at most (the most refused first, as the report sorts them); the
   * rest are counted in `omitted`. A 5-million-row export can name tens of thousands of sources:
   * the API answers the ones a person reads, not megabytes the gateway must check and send.
   */
  maxSources?: number;
}

export interface ReportResult {
  report: ReportModel;
  /** Sources and networks left out of the lists by maxSources (all totals still count them). */
  omitted: { sources: number; networks: number };
  /** The recommended connectors as POST /policy/merge and `mxward policy merge` read them (adds only). */
  policyFragment: PolicyFragment;
}

/** The recommendations YAML the report writes, as the merge fragment (one source of truth: the report's own output). */
export function fragmentOf(report: ReportModel): PolicyFragment {
  return policyFragmentSchema.parse(parseYaml(report.policyYaml) ?? {});
}

function newRun(policy: PolicyDocument, options: ReportOptions, nowMs: number): ReportRun {
  return new ReportRun({
    policy: compilePolicy(policy, 0), whatIf: null, dmarc: options.dmarc, nowMs,
    spf: options.spf, knownSenders: options.knownSenders, dateOrder: options.dateOrder,
  });
}

/**
 * The report over trace records already read (newest first, as queryTrace returns them): the
 * dashboard's "switch to enforce now" answer, from the same records as its counts.
 */
export async function runReportOverRecords(policy: PolicyDocument, records: TraceRecord[], nowMs: number): Promise<ReportResult> {
  const run = newRun(policy, parseReportOptions({}), nowMs);
  // readInputs reads the trace through a TraceStore: hand it these records instead of a second query.
  const given = { queryTrace: async () => records } as unknown as TraceStore;
  await readInputs([], run, { stdin: null, trace: { store: given, limit: records.length }, parallel: false });
  const report = run.finish();
  return { report, omitted: { sources: 0, networks: 0 }, policyFragment: fragmentOf(report) };
}

/** A report in this thread: the worker runs it, and so can a test. */
export async function runReportHere(request: ReportRequest): Promise<ReportResult> {
  const run = newRun(request.policy, parseReportOptions(request.options), request.nowMs);
  const source = request.source;
  if (source.kind === 'upload') {
    // Read as the CLI reads stdin: the format is detected from the content, not the name.
    const stdin = Readable.from([Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength)]);
    await readInputs(['-'], run, { stdin, trace: null, parallel: false });
  } else {
    const store = openStore({ url: source.store.url, dataDir: source.store.dataDir });
    try {
      await readInputs([], run, { stdin: null, trace: { store, since: source.since, limit: source.limit }, parallel: false });
    } finally {
      await store.close();
    }
  }
  const finished = run.finish();
  const named = source.kind === 'upload' ? relabel(finished, source.name) : finished;
  // The fragment comes from every recommendation, before any list is shortened.
  const policyFragment = fragmentOf(named);
  const { report, omitted } = shorten(named, request.maxSources ?? Infinity);
  return { report, omitted, policyFragment };
}

function shorten(report: ReportModel, max: number): { report: ReportModel; omitted: ReportResult['omitted'] } {
  const omitted = { sources: Math.max(0, report.sources.length - max), networks: Math.max(0, report.networks.length - max) };
  if (omitted.sources === 0 && omitted.networks === 0) return { report, omitted };
  return { report: { ...report, sources: report.sources.slice(0, max), networks: report.networks.slice(0, max) }, omitted };
}

/** The upload is read as stdin: in the finished model, name it as the uploader did. */
function relabel(report: ReportModel, name: string): ReportModel {
  const rename = (file: string) => (file === '(stdin)' ? name : file);
  return {
    ...report,
    inputs: report.inputs.map((i) => ({ ...i, file: rename(i.file) })),
    problems: { ...report.problems, shown: report.problems.shown.map((p) => ({ ...p, file: rename(p.file) })) },
  };
}

/**
 * The worker thread's entry (web/run-in-worker.ts calls `run(input)` in a fresh worker with a
 * heap cap and a deadline): the API runs every report there, off the gateway's event loop.
 */
export function run(input: ReportRequest): Promise<ReportResult> {
  return runReportHere(input);
}
