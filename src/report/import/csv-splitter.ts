// A streaming CSV splitter (RFC 4180 plus what PowerShell and the EAC write). Hand-written
// because it is the hot path of a 5M-row report: lines without quotes are split on commas, lines
// where every field is quoted (Export-Csv) are split on `","` and `""` (one indexOf per field or
// escaped quote, straight out of the buffer, no line copy), and only the rest (a line break or a
// stray quote in a field, fields not all quoted) goes through the character-by-character parser. Columns the reader does not use can be skipped (their
// fields come back as ''). bench/report measures it.
//
// Text comes in one of two forms. Usually it is decoded text. The big-file reader
// (parallel-worker.ts) hands over the file's bytes instead, one character per byte (latin1),
// undecoded: every string is then one byte per character, which V8 searches and slices several
// times faster than the two-byte strings UTF-8 decoding makes as soon as one subject holds a
// character beyond Latin-1 (an em dash), and the decode itself is skipped. The delimiters (quote,
// comma, CR, LF) are ASCII and no byte of a multi-byte UTF-8 character is ASCII, so lines and
// fields fall at the same places; only the fields handed out that hold a byte >= 0x80 are decoded
// (utf8-bytes.ts), and the runaway-quote bound counts characters as the decoded text would.

import { decodeUtf8Fields, decodedLength, nextHighByte } from './utf8-bytes.ts';

export type CsvRecordHandler = (fields: string[], line: number) => void;
export type CsvProblemHandler = (line: number, message: string) => void;

/** A quoted field longer than this is taken as a missing closing quote, so memory stays bounded. */
const MAX_RECORD_CHARS = 1 << 20;
const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;

interface SlowRecord { fields: string[]; end: number; newlines: number; error: string | null }

export class CsvSplitter {
  #buffer = '';
  #nextLine = 1;
  #keep: readonly boolean[] | null = null;
  readonly #reuse: string[] = [];
  readonly #onRecord: CsvRecordHandler;
  readonly #onProblem: CsvProblemHandler;
  /** Text is UTF-8 bytes, one per character (see the top of the file). */
  readonly #utf8Bytes: boolean;
  /** The runaway bound's last count in bytes mode: characters from #countedFrom to the end of #countedIn. */
  #countedIn = '';
  #countedFrom = 0;
  #countedChars = 0;

  /**
   * `utf8Bytes`: each pushed string holds UTF-8 bytes as latin1 characters, cut after whole
   * characters (a character split across reads is held back until its last byte, as a streaming
   * decoder does), with no byte-order mark.
   */
  constructor(onRecord: CsvRecordHandler, onProblem: CsvProblemHandler, utf8Bytes = false) {
    this.#onRecord = onRecord;
    this.#onProblem = onProblem;
    this.#utf8Bytes = utf8Bytes;
  }

  /** Physical line number of the next line not yet consumed. */
  get nextLine(): number { return this.#nextLine; }

  /** Only the columns marked true are cut out of simple lines; the others come back as ''. */
  keepColumns(keep: readonly boolean[] | null): void { this.#keep = keep; }

  /** Characters buffered for a record not finished yet. */
  get pending(): number { return this.#buffer.length; }

  push(text: string): void {
    this.#buffer = this.#buffer.length ? this.#buffer + text : text;
    this.#drain(false);
  }

  end(): void {
    if (this.#buffer.length) this.#drain(true);
    this.#buffer = '';
  }

  #drain(final: boolean): void {
    const buf = this.#buffer;
    const bytes = this.#utf8Bytes;
    let pos = 0;
    // In bytes mode, where the next byte >= 0x80 is: lines before it need no decoding.
    let high = bytes ? nextHighByte(buf, 0) : Infinity;
    while (pos < buf.length) {
      let nl = buf.indexOf('\n', pos);
      if (nl < 0) {
        if (!final) break;
        nl = buf.length;
      }
      const lineEnd = nl > pos && buf.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      // With a column mask (a mapper that copies what it needs), one array serves every line.
      const fast = lineEnd === pos ? [] : splitSimpleLine(buf, pos, lineEnd, this.#keep, this.#keep ? this.#reuse : []);
      if (fast) {
        // (After a line skipped by the runaway bound, `high` may be behind `pos`: the fields are
        // then scanned for nothing, and `high` moves on.)
        if (high < lineEnd) {
          decodeUtf8Fields(fast);
          high = nextHighByte(buf, nl);
        }
        if (fast.length) this.#onRecord(fast, this.#nextLine);
        this.#nextLine++;
        pos = nl + 1;
        continue;
      }
      const slow = parseRecord(buf, pos, final);
      if (slow === 'more') {
        if (buf.length - pos > MAX_RECORD_CHARS && this.#pendingChars(buf, pos) > MAX_RECORD_CHARS) {
          this.#onProblem(this.#nextLine, 'quoted field runs past 1 MiB: missing closing quote? line skipped');
          this.#nextLine++;
          pos = nl + 1;
          continue;
        }
        break;
      }
      if (slow === 'unterminated') {
        this.#onProblem(this.#nextLine, 'unterminated quoted field at end of input: record skipped');
        pos = buf.length;
        break;
      }
      if (slow.error) this.#onProblem(this.#nextLine, `${slow.error}: record skipped`);
      else {
        if (bytes) decodeUtf8Fields(slow.fields);
        this.#onRecord(slow.fields, this.#nextLine);
      }
      if (bytes && high < slow.end) high = nextHighByte(buf, slow.end);
      this.#nextLine += slow.newlines + 1;
      pos = slow.end;
    }
    this.#buffer = pos >= buf.length ? '' : buf.slice(pos);
  }

  /**
   * Characters in buf from `pos` on, as the decoded text would hold them: its length, or in bytes
   * mode the length of its decoding (only asked when the bytes pass the bound, so only near a
   * runaway quote). The count is kept, so that skipping line after line of a runaway record
   * decodes each line once instead of the whole pending megabyte per line. `pos` is always a
   * record start, after an LF or at the start of the buffer, where no character is split.
   */
  #pendingChars(buf: string, pos: number): number {
    if (!this.#utf8Bytes) return buf.length - pos;
    if (this.#countedIn !== buf || this.#countedFrom > pos) {
      this.#countedIn = buf;
      this.#countedFrom = pos;
      this.#countedChars = decodedLength(buf, pos, buf.length);
    } else if (this.#countedFrom < pos) {
      this.#countedChars -= decodedLength(buf, this.#countedFrom, pos);
      this.#countedFrom = pos;
    }
    return this.#countedChars;
  }
}

/**
 * The line buf[start, end) when it is one of the common cases, or null when the character parser
 * is needed: no quote at all (split on commas), or every field quoted and no quote inside one.
 */
function splitSimpleLine(buf: string, start: number, end: number, keep: readonly boolean[] | null, fields: string[]): string[] | null {
  let n = 0;
  if (buf.charCodeAt(start) !== QUOTE) {
    let from = start;
    for (let i = start; i < end; i++) {
      const c = buf.charCodeAt(i);
      if (c === QUOTE) return null;
      if (c === COMMA) {
        fields[n] = keep === null || keep[n] !== false ? buf.slice(from, i) : '';
        n++;
        from = i + 1;
      }
    }
    fields[n] = keep === null || keep[n] !== false ? buf.slice(from, end) : '';
    fields.length = n + 1;
    return fields;
  }
  if (end - start < 2 || buf.charCodeAt(end - 1) !== QUOTE) return null;
  let from = start + 1;
  // A field's text before its last escaped quote (`""`), which subjects often hold: read here by
  // indexOf jumps, as the character parser would read it, instead of sending the line to it.
  let head = '';
  for (;;) {
    // The line ends in a quote and `from` never passes it, so this finds one before `end`.
    const q = buf.indexOf('"', from);
    const take = keep === null || keep[n] !== false;
    if (q === end - 1) {
      fields[n] = take ? head + buf.slice(from, q) : '';
      fields.length = n + 1;
      return fields;
    }
    const after = buf.charCodeAt(q + 1);
    if (after === QUOTE) {
      // `""` ending the line leaves the field open: a line break inside it, for the character parser.
      if (q + 1 === end - 1) return null;
      if (take) head += buf.slice(from, q + 1);
      from = q + 2;
      continue;
    }
    if (after !== COMMA || buf.charCodeAt(q + 2) !== QUOTE || q + 2 >= end - 1) return null;
    fields[n] = take ? head + buf.slice(from, q) : '';
    head = '';
    n++;
    from = q + 3;
  }
}

/**
 * One record starting at `start`, quotes honoured (a quoted field may hold commas, `""` and line
 * breaks). 'more' = the buffer ends inside the record and more text may come.
 */
function parseRecord(buf: string, start: number, final: boolean): SlowRecord | 'more' | 'unterminated' {
  const fields: string[] = [];
  let field = '';
  let i = start;
  let newlines = 0;
  let quoted = false;
  let segment = i;
  // RFC 4180 §2.7: after a closing quote only a comma or the line end may follow. Anything else
  // (a stray quote inside a quoted field) is reported, and the record is still read to its end
  // so that the next record starts in the right place.
  let error: string | null = null;
  for (;;) {
    if (i >= buf.length) {
      if (quoted) return final ? 'unterminated' : 'more';
      if (!final) return 'more';
      fields.push(field + buf.slice(segment, i));
      return { fields, end: i, newlines, error };
    }
    const c = buf.charCodeAt(i);
    if (quoted) {
      if (c === QUOTE) {
        if (buf.charCodeAt(i + 1) === QUOTE) { field += buf.slice(segment, i + 1); i += 2; segment = i; continue; }
        if (i + 1 >= buf.length && !final) return 'more';
        field += buf.slice(segment, i);
        quoted = false;
        segment = i + 1;
        const after = buf.charCodeAt(i + 1);
        if (error === null && i + 1 < buf.length && after !== COMMA && after !== LF && after !== CR) {
          error = `field ${fields.length + 1}: text after a closing quote (unescaped " inside a quoted field?)`;
        }
      } else if (c === LF) newlines++;
      i++;
      continue;
    }
    if (c === QUOTE && i === segment && field === '') { quoted = true; segment = i + 1; i++; continue; }
    if (c === COMMA) { fields.push(field + buf.slice(segment, i)); field = ''; segment = i + 1; i++; continue; }
    if (c === LF || (c === CR && buf.charCodeAt(i + 1) === LF)) {
      fields.push(field + buf.slice(segment, i));
      return { fields, end: c === CR ? i + 2 : i + 1, newlines, error };
    }
    if (c === CR && i + 1 >= buf.length && !final) return 'more';
    i++;
  }
}
