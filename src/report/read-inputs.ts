// Feeds every input (files, directories, globs, stdin, mxward's trace store) into a report run,
// one at a time, so at most one file's chunk is in memory. A file that cannot be opened or read
// is a problem of that file, never the end of the run.
import type { TraceStore } from '../store/ports.ts';
import type { ReportRun } from './build-report.ts';
import { importInput } from './import/detect-input.ts';
import { importFileParallel } from './import/parallel-import.ts';
import type { ParallelOptions } from './import/parallel-import.ts';
import { rowFromTrace } from './import/mxward-trace.ts';
import { expandPaths, fileInput } from './import/text-input.ts';
import type { NamedInput } from './import/text-input.ts';
import type { ReportRow } from './types.ts';

export interface ReadOptions {
  stdin: NodeJS.ReadableStream | null;
  trace: { store: TraceStore; since?: string; limit: number } | null;
  /** Called now and then with the number of rows so far (the CLI's progress line). */
  progress?: (rows: number, file: string) => void;
  /** Big message trace CSVs are read on worker threads (parallel-import.ts); false = never. */
  parallel?: ParallelOptions | false;
}

export async function readInputs(args: string[], run: ReportRun, opts: ReadOptions): Promise<void> {
  const inputs: NamedInput[] = [];
  const { files, missing } = await expandPaths(args.filter((a) => a !== '-'));
  for (const m of missing) run.problem({ file: m, line: 0, message: 'no such file, directory or glob match' });
  if (args.includes('-') && opts.stdin) {
    const stdin = opts.stdin;
    inputs.push({ name: '(stdin)', open: () => stdin as AsyncIterable<Uint8Array | string> });
  }
  inputs.push(...files.map(fileInput));
  let inFlight = 0;
  const timer = opts.progress ? setInterval(() => opts.progress!(run.aggregator.rows + inFlight, current), 1000) : null;
  let current = '';
  try {
    for (const input of inputs) {
      current = input.name;
      try {
        if (opts.parallel !== false && files.includes(input.name)) {
          inFlight = 0;
          const outcome = await importFileParallel(input.name, input.name, run, opts.parallel ?? {}, (n) => { inFlight += n; });
          inFlight = 0;
          if (outcome.parallel) continue;
        }
        await importInput(input, run, { dateOrder: run.context.dateOrder ?? null });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        run.problem({ file: input.name, line: 0, message: `cannot read (${e.code ?? e.message}): file skipped` });
      }
    }
    if (opts.trace) {
      current = 'mxward trace';
      const records = await opts.trace.store.queryTrace({ since: opts.trace.since, limit: opts.trace.limit });
      // queryTrace returns newest first; the report reads oldest first like the exports.
      const batch: ReportRow[] = [];
      for (let i = records.length - 1; i >= 0; i--) batch.push(rowFromTrace(records[i], 'mxward trace', records.length - i));
      if (batch.length) run.rows(batch);
    }
  } finally {
    if (timer) clearInterval(timer);
  }
}
