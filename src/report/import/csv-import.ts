// The shared driver for CSV exports: header detection (skipping PowerShell's `#TYPE` line),
// column lookup by name, batching, and problems reported as `file:line: what is wrong`.
import type { ReportRow, RowSink } from '../types.ts';
import { CsvSplitter } from './csv-splitter.ts';
import { FileDates, ambiguousFileMessage } from './dates.ts';
import type { DateOrder } from './dates.ts';

/**
 * A row, or the reason it is unusable; `columns`, when set, are the only fields it reads.
 * `reusesRow`: it returns the same object, refilled, for every line (message-trace.ts), so its
 * rows are handed on one at a time, before the next line is mapped, and copied to be held back.
 */
export type CsvRowMapper = ((fields: string[], line: number) => ReportRow | string) & { columns?: readonly number[]; dates?: FileDates; reusesRow?: boolean };
/** Builds a mapper for a header, or says which required column is missing. */
export type CsvMapperFactory = (header: string[], file: string, options?: CsvOptions) => CsvRowMapper | string;

export interface CsvOptions {
  /** `--date-format`: the order of slashed dates; null = decided per file from its values. */
  dateOrder: DateOrder | null;
}

/** Rows held back while a file's date order is undecided; beyond this the file is refused. */
const MAX_HELD_ROWS = 100_000;

// Small batches: rows die young (scavenged) instead of being promoted to the old space.
const BATCH_ROWS = 64;

/** A row of its own, for one a mapper will refill (only the fields a refill changes are copied deeper). */
function copyRow(row: ReportRow): ReportRow {
  return { ...row, origin: { ...row.origin }, recipients: row.recipients.slice() };
}

/** At most `max` characters of input text in a problem message (issue 12: bounded excerpts). */
export function excerpt(text: string, max = 40): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

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
export interface CsvPart {
  header: string[] | null; final: boolean; dateOrder?: DateOrder | null;
  /** The chunks are UTF-8 bytes, one per latin1 character (csv-splitter.ts), not decoded text. */
  utf8Bytes?: boolean;
}

/** Physical lines read, and whether the input ended exactly at a record boundary. */
export interface CsvImportEnd { lines: number; clean: boolean }

export async function importCsv(file: string, chunks: AsyncIterable<string>, factory: CsvMapperFactory, sink: RowSink, part?: CsvPart, options?: CsvOptions): Promise<CsvImportEnd> {
  const dateOrder = part?.dateOrder ?? options?.dateOrder ?? null;
  let mapper: CsvRowMapper | null = null;
  let failed = false;
  let headerWidth = 0;
  let header: string[] = [];
  let batch: ReportRow[] = [];
  // The one-row batch for a mapper that reuses its row (nothing is kept between lines).
  const single: ReportRow[] = [];
  let held: Array<{ row: ReportRow; text: string | null }> = [];
  let firstAmbiguous: string | null = null;
  // The splitter counts fields; name the column too when the header is known.
  const named = (message: string): string => message.replace(/^field (\d+):/, (m, n: string) => (header[Number(n) - 1] ? `field ${n} (${excerpt(header[Number(n) - 1])}):` : m));
  const splitter = new CsvSplitter(onRecord, (line, message) => sink.problem({ file, line, message: named(message) }), part?.utf8Bytes === true);
  function onHeader(fields: string[], line: number): void {
    const made = factory(fields, file, { dateOrder });
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
    const mapped = mapper(fields, line);
    if (typeof mapped === 'string') { sink.problem({ file, line, message: `${mapped}: row skipped` }); return; }
    const dates = mapper.dates;
    const ambiguous = dates ? dates.takeAmbiguous() : null;
    if (ambiguous === null && held.length === 0 && mapper.reusesRow) {
      // Rows released from holding may still wait in the batch: they come first.
      if (batch.length) { sink.rows(batch); batch = []; }
      single[0] = mapped;
      sink.rows(single);
      return;
    }
    const out = mapper.reusesRow ? copyRow(mapped) : mapped;
    if (ambiguous === null && held.length === 0) {
      batch.push(out);
      if (batch.length >= BATCH_ROWS) { sink.rows(batch); batch = []; }
      return;
    }
    // Issue 12: a date that reads both ways waits (with every row after it, to keep row order)
    // until a later date in the file decides the order.
    held.push({ row: out, text: ambiguous });
    firstAmbiguous ??= ambiguous;
    if (dates?.order) releaseHeld(dates);
    else if (held.length > MAX_HELD_ROWS) {
      sink.problem({ file, line: held[0].row.origin.line, message: `${ambiguousFileMessage(firstAmbiguous ?? '', held.length)}; the rest of the file skipped` });
      held = [];
      failed = true;
    }
  }
  function releaseHeld(dates: FileDates): void {
    for (const h of held) {
      if (h.text !== null) {
        const ms = dates.parse(h.text);
        h.row.timeMs = typeof ms === 'number' ? ms : null;
      }
      batch.push(h.row);
    }
    held = [];
    if (batch.length >= BATCH_ROWS) { sink.rows(batch); batch = []; }
  }
  if (part?.header) onHeader(part.header, 0);
  for await (const chunk of chunks) splitter.push(chunk);
  const clean = splitter.pending === 0;
  if (!part || part.final) splitter.end();
  if (held.length) {
    sink.problem({ file, line: held[0].row.origin.line, message: ambiguousFileMessage(firstAmbiguous ?? '', held.length) });
    held = [];
  }
  if (batch.length) sink.rows(batch);
  if (!mapper && !failed) sink.problem({ file, line: 1, message: 'empty CSV: no header row' });
  return { lines: splitter.nextLine - 1, clean };
}
