// Any input -> rows, the format decided by content (issue 5: never by file name). The first
// decoded chunk is enough to tell JSON, a CSV header, and a message or header block apart.
import type { ReportRow, RowSink } from '../types.ts';
import { importCsv } from './csv-import.ts';
import type { CsvMapperFactory, CsvOptions } from './csv-import.ts';
import { columnIndex, excerpt, isTypeLine } from './csv-import.ts';
import { defenderCsvMapper, defenderJsonRow, looksLikeDefenderEvents } from './defender-events.ts';
import { eacTraceMapper, looksLikeEacTrace } from './eac-trace.ts';
import { importMailHeaders } from './mail-headers.ts';
import { looksLikeMessageTrace, messageTraceMapper } from './message-trace.ts';
import { decodePieces, textOf } from './text-input.ts';
import type { DecodedPiece, NamedInput } from './text-input.ts';
import { Utf8ByteChunker } from './utf8-bytes.ts';

/** Whole-document JSON is parsed in memory; beyond this, ask for JSON Lines or CSV instead. */
const MAX_JSON_DOCUMENT_CHARS = 256 * 1024 * 1024;

/** Picks the CSV layout from the header, or names what is missing. */
export const detectCsvLayout: CsvMapperFactory = (header, file, options) => {
  if (looksLikeMessageTrace(header)) return messageTraceMapper(header, file, options);
  if (looksLikeEacTrace(header)) return eacTraceMapper(header, file, options);
  if (looksLikeDefenderEvents(header)) return defenderCsvMapper(header, file, options);
  const col = columnIndex(header);
  if (col('received') >= 0 || col('senderaddress') >= 0) {
    const missing = ['Received', 'SenderAddress', 'RecipientAddress'].filter((c) => col(c) < 0);
    return `message trace export is missing column ${missing.join(', ')}`;
  }
  return `unrecognised header (${header.slice(0, 4).map((h) => excerpt(h)).join(',')}…): expected a Get-MessageTraceV2 export (Received, SenderAddress, RecipientAddress, …), an EAC trace report (origin_timestamp, sender_address, …) or an EmailEvents export (Timestamp, SenderMailFromAddress, …)`;
};

type Sniffed = 'json' | 'csv' | 'mail';

const HEADER_FIELD = /^[!-9;-~]+[ \t]*:/;

export function sniffText(head: string): Sniffed {
  const text = head.replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  const firstLine = text.slice(0, Math.max(0, text.indexOf('\n')) || text.length).replace(/\r$/, '');
  if (firstLine.startsWith('From ')) return 'mail';
  if (isTypeLine([firstLine])) return 'csv';
  // A header line has `Name:` before any comma; a CSV header has commas and no `Name:` opening.
  if (HEADER_FIELD.test(firstLine) && !/^"?[^:]*,/.test(firstLine)) return 'mail';
  return 'csv';
}

async function* prepend(first: string, rest: AsyncIterable<string>): AsyncGenerator<string> {
  yield first;
  for await (const r of rest) yield r;
}

async function importJson(file: string, chunks: AsyncIterable<string>, sink: RowSink, options: CsvOptions): Promise<void> {
  let text = '';
  for await (const c of chunks) {
    text += c;
    if (text.length > MAX_JSON_DOCUMENT_CHARS) {
      sink.problem({ file, line: 1, message: 'JSON document larger than 256 MiB: export as CSV or JSON Lines (one object per line) instead; file skipped' });
      return;
    }
  }
  const lines = text.split('\n');
  const objectLines = lines.filter((l) => l.trim() !== '');
  // JSON Lines: every non-empty line is an object on its own.
  if (objectLines.length > 1 && objectLines.every((l) => l.trim().startsWith('{') && l.trim().endsWith('}'))) {
    const batch: ReportRow[] = [];
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      let o: unknown;
      try { o = JSON.parse(l); } catch { sink.problem({ file, line: i + 1, message: 'not valid JSON: record skipped' }); return; }
      const row = defenderJsonRow(o as Record<string, unknown>, file, i + 1, options.dateOrder);
      if (typeof row === 'string') sink.problem({ file, line: i + 1, message: `${row}: record skipped` });
      else batch.push(row);
    });
    if (batch.length) sink.rows(batch);
    return;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const pos = /position (\d+)/.exec((err as Error).message);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : 1;
    sink.problem({ file, line, message: 'not valid JSON: file skipped' });
    return;
  }
  const wrapper = doc as Record<string, unknown> | null;
  const list = Array.isArray(doc) ? doc : Array.isArray(wrapper?.Results) ? wrapper.Results : Array.isArray(wrapper?.results) ? wrapper.results : [doc];
  if (list.length && typeof list[0] === 'object' && list[0] !== null && ('ConnectorType' in list[0] || 'DomainName' in list[0] || 'RejectDirectSend' in list[0])) {
    sink.problem({ file, line: 1, message: 'this is an Exchange Online configuration export, not traffic: pass it with --connectors or --accepted-domains; file skipped' });
    return;
  }
  const batch: ReportRow[] = [];
  list.forEach((o, i) => {
    // Records of a pretty-printed array have no line of their own: report the record's index.
    const where = i + 1;
    const row = typeof o === 'object' && o !== null ? defenderJsonRow(o as Record<string, unknown>, file, where, options.dateOrder) : 'not a JSON object';
    if (typeof row === 'string') sink.problem({ file, line: where, message: `record ${where}: ${row}: record skipped` });
    else batch.push(row);
  });
  if (batch.length) sink.rows(batch);
}

/**
 * A UTF-8 CSV's pieces as bytes, one per latin1 character, for the CSV splitter's bytes mode
 * (csv-splitter.ts says why): pushed as the text would have been, the head's pieces as one
 * string and then one string per piece that has text (utf8-bytes.ts holds back the same bytes
 * as the decoder, so a piece has bytes to give exactly when it has text).
 */
async function* bytesOf(head: DecodedPiece[], rest: AsyncIterator<DecodedPiece>): AsyncGenerator<string> {
  const chunker = new Utf8ByteChunker(true);
  const take = (p: DecodedPiece): string => {
    if (p.end) return chunker.end();
    // Text that came as text (a stream in string mode) goes on as its UTF-8 bytes.
    const bytes = p.bytes === null ? Buffer.from(p.text, 'utf8') : Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
    return chunker.take(bytes, 0, bytes.length);
  };
  let first = '';
  for (const p of head) first += take(p);
  if (first) yield first;
  for (let r = await rest.next(); !r.done; r = await rest.next()) {
    const text = take(r.value);
    if (text) yield text;
  }
}

/** Reads one input of any supported format into the sink. Never throws for bad content. */
export async function importInput(input: NamedInput, sink: RowSink, options: CsvOptions = { dateOrder: null }): Promise<void> {
  const pieces = decodePieces(input.open())[Symbol.asyncIterator]();
  // The pieces read for the head, kept so that a UTF-8 CSV can be read from its bytes.
  const read: DecodedPiece[] = [];
  const nextText = async (): Promise<string | null> => {
    for (;;) {
      const r = await pieces.next();
      if (r.done) return null;
      read.push(r.value);
      if (r.value.text) return r.value.text;
    }
  };
  let head = '';
  let next = await nextText();
  while (next !== null && head.length < 64 && (head + next).indexOf('\n') < 0) {
    head += next;
    next = await nextText();
  }
  if (next !== null) head += next;
  if (head.trim() === '') {
    sink.problem({ file: input.name, line: 1, message: 'empty input: nothing to report' });
    return;
  }
  const kind = sniffText(head);
  if (kind === 'csv' && read.every((p) => p.bytes === null || p.encoding === 'utf-8') && read.some((p) => p.bytes !== null)) {
    await importCsv(input.name, bytesOf(read, pieces), detectCsvLayout, sink, { header: null, final: true, dateOrder: options.dateOrder, utf8Bytes: true }, options);
    return;
  }
  // The rest of the pieces, after those the head was read from.
  const all = prepend(head, textOf({ [Symbol.asyncIterator]: () => pieces }));
  if (kind === 'json') await importJson(input.name, all, sink, options);
  else if (kind === 'mail') await importMailHeaders(input.name, all, sink);
  else await importCsv(input.name, all, detectCsvLayout, sink, undefined, options);
}
