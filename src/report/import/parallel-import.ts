// A big message trace CSV read on every core: the file is cut into one byte range per core; the
// main thread reads the first straight into the run's aggregate while worker threads
// (parallel-worker.ts) classify and aggregate the others, and their partial aggregates are merged
// in file order (merge-aggregate.ts), giving exactly the report of one sequential pass.
//
// Where to cut: a range must start at a record start outside quotes, and a quoted field may hold
// line breaks, so a line start is only a guess. Counting quotes from the top of the file to prove
// a cut would be a serial pass over the whole file before any work starts; instead the cut is
// speculative and verified afterwards: each range is parsed with full quote handling from a start
// already known to be good (range 0 starts at byte 0), so its parser ends exactly at its end byte
// with nothing pending if and only if the next range's start is a true record start. The guess is
// made at a line that opens like the first data record (a quote then a digit, for Export-Csv with
// ISO or US dates), which a line inside a multi-line subject rarely does. When a cut proves wrong,
// or a merge could differ from one pass (merge-aggregate.ts), the file is read again sequentially:
// slower, never different. Stdin, small files, UTF-16 and other formats stay sequential.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { MAX_SOURCES, ReportAggregator } from '../aggregate.ts';
import type { ReportRun } from '../build-report.ts';
import { mergeIsExact, mergePartial, mergeSources, partialOf, sourcesFit } from '../merge-aggregate.ts';
import { CsvSplitter } from './csv-splitter.ts';
import { isTypeLine } from './csv-import.ts';
import { sniffText } from './detect-input.ts';
import { looksLikeMessageTrace } from './message-trace.ts';
import { readRangeInto } from './parallel-worker.ts';
import { HeapCollector } from './heap-collector.ts';
import type { RangeJob, RangeRead, RangeResult, SourceBatch, WorkerSetup } from './parallel-worker.ts';
import { Classifier } from '../classify.ts';
import type { PartialAggregate } from '../merge-aggregate.ts';
import type { InputProblem } from '../types.ts';
import { sniffEncoding } from './text-input.ts';
import { countText } from '../count-text.ts';

export interface ParallelOptions {
  /** Worker threads; default: the available cores, at most MAX_THREADS. Fewer than 2 = sequential. */
  threads?: number;
  /** Files smaller than this stay sequential (default 32 MiB). */
  minBytes?: number;
  /** Byte offsets to cut at (tests); each is moved to the next line start. */
  splitAt?: number[];
}

/** Why a file was (not) read in parallel; `parallel: false` leaves the file to the caller. */
export type ParallelOutcome = { parallel: true; ranges: number } | { parallel: false; reason: string };

const DEFAULT_MIN_BYTES = 32 << 20;
/** Each worker costs some 50 to 80 MB (measured here on 2 cores; more cores not measured): a cap keeps memory bounded. */
const MAX_THREADS = 4;
/**
 * A worker's young generation. V8 would grow it to 64 MB and more per isolate; rows die young
 * anyway, and 8 MB kept the bench's peak RSS ~30 MB lower for ~5% more CPU.
 */
const WORKER_YOUNG_MB = 8;
const HEAD_BYTES = 64 << 10;
/**
 * Node's compile cache (in the system temp directory, where module.enableCompileCache() puts it)
 * for the workers, unless the user chose one or turned it off: a worker then loads its TypeScript
 * modules in ~40 ms instead of ~100 ms, since the type-stripped code is not made again.
 */
const WORKER_ENV = process.env.NODE_COMPILE_CACHE || process.env.NODE_DISABLE_COMPILE_CACHE
  ? process.env
  : { ...process.env, NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };

interface Head { header: string[]; dataStart: number; opening: Buffer; isoDates: boolean }

/** The header of a UTF-8 message trace CSV, or why the file is not one for the parallel path. */
function readHead(fd: number): Head | string {
  const buf = Buffer.alloc(HEAD_BYTES);
  const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
  const head = buf.subarray(0, n);
  if (sniffEncoding(head) !== 'utf-8') return 'not UTF-8';
  const text = new TextDecoder('utf-8').decode(head);
  if (sniffText(text) !== 'csv') return 'not CSV';
  const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  let lineStart = bom;
  for (let i = 0; i < 2; i++) {
    const nl = head.indexOf(10, lineStart);
    if (nl < 0) return 'no header line in the first 64 KiB';
    const line = head.subarray(lineStart, nl).toString('utf8');
    let quotes = 0;
    for (let j = 0; j < line.length; j++) if (line.charCodeAt(j) === 34) quotes++;
    if (quotes % 2 !== 0) return 'header with a line break inside quotes';
    let fields: string[] = [];
    const splitter = new CsvSplitter((f) => { fields = f; }, () => undefined);
    splitter.push(`${line}\n`);
    lineStart = nl + 1;
    if (i === 0 && isTypeLine(fields)) continue;
    if (!looksLikeMessageTrace(fields)) return 'not a message trace';
    return { header: fields, dataStart: lineStart, opening: Buffer.from(head.subarray(lineStart, lineStart + 2)), isoDates: firstDateIsIso(head, lineStart, fields) };
  }
  return 'no header';
}

/**
 * Whether the first record's Received is ISO 8601. Locale dates (05/11/2026) need the whole
 * file to decide their order (issue 12), which one range cannot see: those files stay sequential
 * unless --date-format names the order.
 */
function firstDateIsIso(head: Buffer, lineStart: number, header: string[]): boolean {
  const nl = head.indexOf(10, lineStart);
  if (nl < 0) return false;
  let fields: string[] = [];
  new CsvSplitter((f) => { fields = f; }, () => undefined).push(`${head.subarray(lineStart, nl).toString('utf8')}\n`);
  const at = header.findIndex((h) => h.replace(/^\uFEFF/, '').trim().toLowerCase() === 'received');
  return at >= 0 && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(fields[at]?.trim() ?? '');
}

/** The next line start at or after `from` that opens like the first data record (else any line start). */
function cutNear(fd: number, from: number, size: number, opening: Buffer, strict: boolean): number | null {
  const buf = Buffer.alloc(HEAD_BYTES);
  const n = readSync(fd, buf, 0, Math.min(HEAD_BYTES, size - from), from - 1);
  let first: number | null = null;
  for (let i = buf.indexOf(10, 0); i >= 0 && i < n - 2; i = buf.indexOf(10, i + 1)) {
    const at = from + i;
    first ??= at;
    if (!strict) return at;
    const a = buf[i + 1];
    const b = buf[i + 2];
    const digit = (c: number | undefined): boolean => c !== undefined && c >= 48 && c <= 57;
    if (a === opening[0] && digit(b) === digit(opening[1])) return at;
  }
  return first;
}

function cuts(fd: number, size: number, head: Head, opts: ParallelOptions, threads: number): number[] {
  const span = size - head.dataStart;
  // One range per thread, the first read by the main thread: every further range costs the main
  // thread a structured clone and a merge of a whole partial aggregate (with tens of thousands of
  // sources, more than the better balance between cores saves).
  const ranges = threads;
  const wanted = opts.splitAt
    ? [...opts.splitAt].sort((a, b) => a - b)
    : Array.from({ length: ranges - 1 }, (_, i) => head.dataStart + Math.floor(((i + 1) * span) / ranges));
  const out: number[] = [];
  for (const w of wanted) {
    if (w <= head.dataStart || w >= size) continue;
    const at = cutNear(fd, w, size, head.opening, !opts.splitAt);
    if (at !== null && at > (out.at(-1) ?? head.dataStart) && at < size) out.push(at);
  }
  return out;
}

/**
 * A range read: by a worker (its partial aggregate, whose sources `fetch` brings in batches), or
 * by the main thread (partial null: already in the target).
 */
interface RangeDone {
  index: number; lines: number; clean: boolean; partial: PartialAggregate | null; problems: InputProblem[]; problemCount: number;
  fetch: (() => Promise<SourceBatch>) | null;
}

/**
 * A worker thread for ranges: each range's result goes to `onResult` (with a `fetch` that asks
 * the worker for the range's sources, one batch at a time), a failure to `onFail`.
 */
function startWorker(setup: WorkerSetup, onResult: (r: RangeDone) => void, onFail: (why: string) => void): Worker {
  const worker = new Worker(new URL('./parallel-worker.ts', import.meta.url), { workerData: setup, env: WORKER_ENV, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
  let asked: { resolve: (b: SourceBatch) => void; reject: (e: Error) => void } | null = null;
  const fetchFor = (index: number) => (): Promise<SourceBatch> => new Promise((resolve, reject) => {
    asked = { resolve, reject };
    worker.postMessage({ send: index });
  });
  const fail = (why: string): void => { const a = asked; asked = null; a?.reject(new Error(why)); onFail(why); };
  worker.on('message', (r: RangeResult | SourceBatch) => {
    if ('batch' in r) { const a = asked; asked = null; a?.resolve(r); return; }
    if ('error' in r) { fail(`range ${r.index} failed: ${r.error}`); return; }
    onResult({
      index: r.index, lines: r.lines, clean: r.clean, partial: r.partial, problems: r.partial.problems, problemCount: r.partial.problemCount,
      fetch: r.sourcesToSend ? fetchFor(r.index) : null,
    });
  });
  worker.on('error', (err) => fail(`worker failed: ${err.message}`));
  worker.on('exit', (code) => fail(`worker stopped (exit code ${code})`));
  return worker;
}

/**
 * Runs jobs[0] on the main thread (`local`, straight into the target aggregate: no copy of it is
 * ever made) and the others on `threads - 1` workers, and hands each result to `consume` in range
 * order, as soon as the ranges before it are in. Resolves with null when all went well, else with
 * the reason to give up (workers are then stopped).
 */
function runRanges(setup: WorkerSetup, jobs: RangeJob[], threads: number, local: Promise<RangeRead>, consume: (r: RangeDone) => Promise<string | null>): Promise<string | null> {
  return new Promise((resolve) => {
    const waiting = new Map<number, RangeDone>();
    const workers: Worker[] = [];
    let next = 1;
    let merged = 0;
    let settled = false;
    let draining = false;
    const finish = (value: string | null): void => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      resolve(value);
    };
    // One range at a time, in file order: a range's sources arrive over several messages.
    const drain = async (): Promise<void> => {
      if (draining) return;
      draining = true;
      try {
        for (let ready = waiting.get(merged); ready && !settled; ready = waiting.get(merged)) {
          waiting.delete(merged);
          const problem = await consume(ready);
          if (problem) { finish(problem); return; }
          if (++merged === jobs.length) { finish(null); return; }
        }
      } catch (err) {
        finish(`merging failed: ${String((err as Error)?.message ?? err)}`);
      } finally {
        draining = false;
      }
    };
    const take = (r: RangeDone): boolean => {
      if (settled) return false;
      if (!r.clean && !jobs[r.index].final) { finish(`range ${r.index} did not end at a record boundary`); return false; }
      waiting.set(r.index, r);
      void drain();
      return true;
    };
    for (let i = 0; i < Math.min(Math.max(1, threads - 1), jobs.length - 1); i++) {
      const w = startWorker(setup, (done) => { if (take(done) && next < jobs.length) w.postMessage(jobs[next++]); }, finish);
      workers.push(w);
      w.postMessage(jobs[next++]);
    }
    local.then(
      (read) => { take({ index: 0, lines: read.lines, clean: read.clean, partial: null, problems: read.problems, problemCount: read.problemCount, fetch: null }); },
      (err: unknown) => finish(`range 0 failed: ${String((err as Error)?.message ?? err)}`),
    );
  });
}

/** Reads `path` on worker threads into `run` when it qualifies; otherwise leaves it untouched. */
export async function importFileParallel(path: string, name: string, run: ReportRun, opts: ParallelOptions = {}, onRows: (n: number) => void = () => undefined): Promise<ParallelOutcome> {
  const threads = opts.threads ?? Math.min(availableParallelism(), MAX_THREADS);
  if (threads < 2 && !opts.splitAt) return { parallel: false, reason: 'one core' };
  const size = statSync(path).size;
  if (size < (opts.minBytes ?? DEFAULT_MIN_BYTES)) return { parallel: false, reason: 'small file' };
  const fd = openSync(path, 'r');
  let head: Head | string;
  let cutAt: number[];
  try {
    head = readHead(fd);
    if (typeof head === 'string') return { parallel: false, reason: head };
    if (!head.isoDates && !run.context.dateOrder) return { parallel: false, reason: 'locale dates: their order is decided over the whole file' };
    cutAt = cuts(fd, size, head, opts, threads);
  } finally {
    closeSync(fd);
  }
  const bounds = [0, ...cutAt, size];
  const jobs: RangeJob[] = bounds.slice(0, -1).map((start, index) => ({
    index, start, end: bounds[index + 1], header: index === 0 ? null : (head as Head).header, final: index === bounds.length - 2,
  }));
  const { policy, whatIf, nowMs } = run.context;
  const setup: WorkerSetup = {
    kind: 'mxward-report-range', path, name, nowMs, dateOrder: run.context.dateOrder ?? null,
    policy: { document: policy.document, version: policy.version },
    whatIf: whatIf ? { document: whatIf.document, version: whatIf.version } : null,
  };
  // Merged straight into the run when it is still empty (cleared again if a later range fails),
  // else into a scratch aggregate first, so that earlier files' results are never touched.
  const target = run.aggregator.isEmpty() ? run.aggregator : new ReportAggregator(() => false);
  const problems: Array<{ list: InputProblem[]; more: number }> = [];
  let lineOffset = 0;
  const now = new Classifier(policy, nowMs);
  const whatIfNow = whatIf ? new Classifier(whatIf, nowMs) : null;
  const localFd = openSync(path, 'r');
  // The main thread's heap: collected as it reads its range, at its end, and as a worker's
  // sources are merged into it (heap-collector.ts).
  const heap = new HeapCollector();
  const local = readRangeInto(name, localFd, jobs[0], setup.dateOrder, now, whatIfNow, target, heap).finally(() => closeSync(localFd));
  const tooMany = (index: number): string => `range ${index}: more than ${countText(MAX_SOURCES)} sources`;
  const failed = await runRanges(setup, jobs, Math.max(2, threads), local, async (r) => {
    if (r.partial) {
      if (!mergeIsExact(target, r.partial)) return tooMany(r.index);
      mergePartial(target, r.partial, lineOffset);
      const rows = r.partial.rows;
      // Its clones (up to 100,000 IPs with signals, the internal senders) are merged: not kept
      // while the sources come.
      r.partial = null;
      // The worker serialises the next batch while this thread merges the one it has.
      let asking = r.fetch ? r.fetch() : null;
      while (asking) {
        const { batch, last } = await asking;
        asking = last || !r.fetch ? null : r.fetch();
        if (!sourcesFit(target, batch.map(([key]) => key))) { asking?.catch(() => undefined); return tooMany(r.index); }
        mergeSources(target, batch);
        heap.maybeCollect();
      }
      onRows(rows);
    }
    problems.push({ list: r.problems.map((p) => ({ ...p, line: p.line + lineOffset })), more: r.problemCount - r.problems.length });
    lineOffset += r.lines;
    return null;
  });
  if (failed) {
    // The main thread's own range may still be reading into the target: let it end first.
    await local.catch(() => undefined);
    if (target === run.aggregator) target.clear();
    return { parallel: false, reason: failed };
  }
  if (target !== run.aggregator) {
    const whole = partialOf(target, [], 0);
    if (!mergeIsExact(run.aggregator, whole)) return { parallel: false, reason: `more than ${countText(MAX_SOURCES)} sources across files` };
    mergePartial(run.aggregator, whole, 0);
  }
  for (const p of problems) {
    for (const one of p.list) run.problem(one);
    run.countProblems(p.more);
  }
  return { parallel: true, ranges: jobs.length };
}
