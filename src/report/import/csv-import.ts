// The shared driver for CSV exports: header detection (skipping PowerShell's `#TYPE` line),
// column lookup by name, batching, and problems reported as `file:line: what is wrong`.
import type { ReportRow, RowSink } from '../types.ts';
import { CsvSplitter } from './csv-splitter.ts';

/** A row, or the reason it is unusable; `columns`, when set, are the only fields it reads. */
export type CsvRowMapper = ((fields: string[], line: number) => ReportRow | string) & { columns?: readonly number[] };
/** Builds a mapper for a header, or says which required column is missing. */
export type CsvMapperFactory = (header: string[], file: string) => CsvRowMapper | string;

// Small batches: rows die young (scavenged) instead of being promoted to the old space.
const BATCH_ROWS = 64;

export function normalizeColumnName(name: string): string {
  return name.replace(/^\uFEFF/, '').trim().replace(/^"|"$/g, '').toLowerCase();
}

/** Column indexes by lower-cased name; -1 when absent. */
export function columnIndex(header: string[]): (name: string) => number {
  const map = new Map<string, number>();
  header.forEach((h, i) => { const key = normalizeColumnName(h); if (!map.has(key)) map.set(key, i); });
  return (name) => map.get(name.toLowerCase()) ?? -1;
}

export function isTypeLine(fields: string[]): boolean {
  return fields.length >= 1 && fields[0].trimStart().replace(/^\uFEFF/, '').startsWith('#TYPE');
}

/**
 * A part of a CSV file (parallel-import.ts). One that starts at a record boundary after the
 * header is given the header, and its line numbers count from its own start; `final: false`
 * leaves an unfinished last record pending instead of reporting it.
 */
export interface CsvPart { header: string[] | null; final: boolean }

/** Physical lines read, and whether the input ended exactly at a record boundary. */
export interface CsvImportEnd { lines: number; clean: boolean }

export async function importCsv(file: string, chunks: AsyncIterable<string>, factory: CsvMapperFactory, sink: RowSink, part?: CsvPart): Promise<CsvImportEnd> {
  let mapper: CsvRowMapper | null = null;
  let failed = false;
  let headerWidth = 0;
  let header: string[] = [];
  let batch: ReportRow[] = [];
  // The splitter counts fields; name the column too when the header is known.
  const named = (message: string): string => message.replace(/^field (\d+):/, (m, n: string) => (header[Number(n) - 1] ? `field ${n} (${header[Number(n) - 1]}):` : m));
  const splitter = new CsvSplitter(onRecord, (line, message) => sink.problem({ file, line, message: named(message) }));
  function onHeader(fields: string[], line: number): void {
    const made = factory(fields, file);
    if (typeof made === 'string') {
      sink.problem({ file, line, message: made });
      failed = true;
      return;
    }
    mapper = made;
    headerWidth = fields.length;
    header = fields.map((h) => h.replace(/^\uFEFF/, '').trim());
    if (made.columns) {
      const keep = header.map(() => false);
      for (const c of made.columns) keep[c] = true;
      splitter.keepColumns(keep);
    }
  }
  function onRecord(fields: string[], line: number): void {
    if (failed) return;
    if (!mapper) {
      if (!isTypeLine(fields)) onHeader(fields, line);
      return;
    }
    if (fields.length !== headerWidth) {
      sink.problem({ file, line, message: `expected ${headerWidth} fields, found ${fields.length}: row skipped` });
      return;
    }
    const out = mapper(fields, line);
    if (typeof out === 'string') sink.problem({ file, line, message: `${out}: row skipped` });
    else {
      batch.push(out);
      if (batch.length >= BATCH_ROWS) { sink.rows(batch); batch = []; }
    }
  }
  if (part?.header) onHeader(part.header, 0);
  for await (const chunk of chunks) splitter.push(chunk);
  const clean = splitter.pending === 0;
  if (!part || part.final) splitter.end();
  if (batch.length) sink.rows(batch);
  if (!mapper && !failed) sink.problem({ file, line: 1, message: 'empty CSV: no header row' });
  return { lines: splitter.nextLine - 1, clean };
}
