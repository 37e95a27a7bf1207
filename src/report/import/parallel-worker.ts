// The worker thread of parallel-import.ts: reads byte ranges of one message trace CSV, classifies
// and aggregates their rows exactly as the single-threaded path does, and posts back a partial
// aggregate per range. It loads only what rows need (no renderers, no other importers), since
// every thread pays for its own copy. Reads are aligned to the same grid as the sequential reader
// (text-input.ts), so the splitter sees the same chunks and makes the same decisions.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { PolicyDocument } from '../../config/policy-schema.ts';
import { compilePolicy } from '../../policy/compile.ts';
import { ReportAggregator, addRows } from '../aggregate.ts';
import { Classifier } from '../classify.ts';
import { partialOf } from '../merge-aggregate.ts';
import type { PartialAggregate } from '../merge-aggregate.ts';
import type { SourceStats } from '../source-stats.ts';
import type { InputProblem, ReportRow } from '../types.ts';
import { importCsv } from './csv-import.ts';
import { messageTraceMapperFor } from './message-trace.ts';

const reportMapper = messageTraceMapperFor(true);
import { READ_CHUNK_BYTES } from './text-input.ts';
import { Utf8ByteChunker } from './utf8-bytes.ts';
import { HeapCollector } from './heap-collector.ts';
import type { DateOrder } from './dates.ts';

export interface WorkerSetup {
  kind: 'mxward-report-range';
  path: string;
  /** The input's name as the report shows it. */
  name: string;
  policy: { document: PolicyDocument; version: number };
  whatIf: { document: PolicyDocument; version: number } | null;
  nowMs: number;
  /** `--date-format`, when given; else the file's first date was ISO (parallel-import.ts). */
  dateOrder: DateOrder | null;
}

export interface RangeJob {
  index: number;
  start: number;
  end: number;
  /** null for the first range, which starts at byte 0 and reads the header itself. */
  header: string[] | null;
  final: boolean;
}

/**
 * A range's result. Posted by a worker without its sources (`partial.sources` empty,
 * `sourcesToSend` of them kept back): the main thread asks for them in batches when it merges
 * the range, so that neither thread ever holds a second whole copy of them (issue 17).
 */
export type RangeResult =
  | { index: number; partial: PartialAggregate; lines: number; clean: boolean; sourcesToSend?: number }
  | { index: number; error: string };

/** The main thread's request for the next batch of a range's sources, and the answer. */
export interface SourcesRequest { send: number }
export interface SourceBatch { index: number; batch: Array<[string, SourceStats]>; last: boolean }
/**
 * Sources per batch: small enough that a batch's clone and the merge's garbage die in the main
 * thread's young generation (8 MB) instead of being promoted and piling up in the old one while
 * tens of thousands of sources are merged (2,000 botnet sources cloned are about 4 MB, issue 17).
 */
const SOURCE_BATCH = 500;

/** Batches sent between two collections of the worker's heap (a fifth of 80,000 sources). */
const SHRINK_BATCHES = 32;

/** Problems kept per range: more than the CLI prints and the report shows, so replay is exact. */
const KEPT_PROBLEMS = 128;

/** Rows between two looks at the heap's growth (a look costs about a microsecond). */
const HEAP_CHECK_ROWS = 16_384;

/** Bytes per read call; handed on in READ_CHUNK_BYTES pieces on the sequential reader's grid. */
const READ_BYTES = 16 * READ_CHUNK_BYTES;

/**
 * The range's bytes as latin1 strings (one character per byte: csv-splitter.ts says why), cut
 * where the sequential reader's chunks end (multiples of READ_CHUNK_BYTES) and, like its
 * streaming decoder, after whole characters (utf8-bytes.ts).
 */
async function* readRange(fd: number, start: number, end: number): AsyncGenerator<string> {
  const chunker = new Utf8ByteChunker(start === 0);
  const buf = Buffer.allocUnsafe(READ_BYTES);
  let pos = start;
  while (pos < end) {
    const n = readSync(fd, buf, 0, Math.min(READ_BYTES, end - pos), pos);
    if (n <= 0) break;
    let from = 0;
    while (from < n) {
      const at = pos + from;
      const to = Math.min(n, (Math.floor(at / READ_CHUNK_BYTES) + 1) * READ_CHUNK_BYTES - pos);
      const text = chunker.take(buf, from, to);
      if (text) yield text;
      from = to;
    }
    pos += n;
  }
  const rest = chunker.end();
  if (rest) yield rest;
}

/** What reading one range left besides its rows (which went into the aggregator). */
export interface RangeRead { problems: InputProblem[]; problemCount: number; lines: number; clean: boolean }

/**
 * Reads one range into `agg` as ReportRun does with rows, without the rest of the report: on a
 * worker thread into a fresh aggregator, and on the main thread (the first range) straight into
 * the run's. Problems are kept, not reported, so a run that falls back to one pass reports each once.
 */
export async function readRangeInto(name: string, fd: number, job: RangeJob, dateOrder: DateOrder | null, now: Classifier, whatIf: Classifier | null, agg: ReportAggregator,
  heap: HeapCollector = new HeapCollector()): Promise<RangeRead> {
  const problems: InputProblem[] = [];
  let problemCount = 0;
  let sinceCheck = 0;
  const sink = {
    rows: (batch: ReportRow[]) => {
      addRows(batch, now, whatIf, agg);
      if ((sinceCheck += batch.length) >= HEAP_CHECK_ROWS) { sinceCheck = 0; heap.maybeCollect(); }
    },
    problem: (p: InputProblem) => { problemCount++; if (problems.length < KEPT_PROBLEMS) problems.push(p); },
  };
  const end = await importCsv(name, readRange(fd, job.start, job.end), reportMapper, sink, { header: job.header, final: job.final, dateOrder, utf8Bytes: true });
  // What the range left behind goes before the sources are sent or merged (heap-collector.ts).
  heap.collect();
  return { problems, problemCount, lines: end.lines, clean: end.clean };
}

export async function runRange(setup: WorkerSetup, fd: number, job: RangeJob, heap: HeapCollector = new HeapCollector()): Promise<RangeResult> {
  const policy = compilePolicy(setup.policy.document, setup.policy.version);
  const whatIf = setup.whatIf ? compilePolicy(setup.whatIf.document, setup.whatIf.version) : null;
  const now = new Classifier(policy, setup.nowMs);
  const agg = new ReportAggregator((d) => now.isAccepted(d));
  const read = await readRangeInto(setup.name, fd, job, setup.dateOrder, now, whatIf ? new Classifier(whatIf, setup.nowMs) : null, agg, heap);
  return { index: job.index, partial: partialOf(agg, read.problems, read.problemCount), lines: read.lines, clean: read.clean };
}

/** The next batch of a range's sources, taken out of `pending` (a range is dropped when sent). */
function nextBatch(pending: Map<number, Map<string, SourceStats>>, index: number): SourceBatch {
  const sources = pending.get(index) ?? new Map<string, SourceStats>();
  const batch: Array<[string, SourceStats]> = [];
  for (const entry of sources) {
    batch.push(entry);
    sources.delete(entry[0]);
    if (batch.length >= SOURCE_BATCH) break;
  }
  if (sources.size === 0) pending.delete(index);
  return { index, batch, last: sources.size === 0 };
}

if (parentPort && (workerData as WorkerSetup | null)?.kind === 'mxward-report-range') {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
  const fd = openSync(setup.path, 'r');
  const pending = new Map<number, Map<string, SourceStats>>();
  const heap = new HeapCollector();
  let sent = 0;
  port.on('message', (job: RangeJob | SourcesRequest | null) => {
    if (job === null) { closeSync(fd); port.close(); return; }
    if ('send' in job) {
      const batch = nextBatch(pending, job.send);
      port.postMessage(batch);
      // The sources sent are garbage here: collected as they go, this heap shrinks while the main
      // thread's grows with them, instead of staying whole until the worker ends (after the last
      // batch it is ended: nothing to collect then).
      if (!batch.last && ++sent % SHRINK_BATCHES === 0) heap.collect();
      return;
    }
    runRange(setup, fd, job, heap).then(
      (result) => {
        if (!('partial' in result)) { port.postMessage(result); return; }
        pending.set(job.index, result.partial.sources);
        port.postMessage({ ...result, partial: { ...result.partial, sources: new Map() }, sourcesToSend: result.partial.sources.size });
      },
      (err: unknown) => port.postMessage({ index: job.index, error: String((err as Error)?.stack ?? err) }),
    );
  });
}
