// The header section of a message (RFC 5322 §2.2), read once at end of DATA into its canonical
// form (SPEC §10). Every consumer (header-From facts, stripping, stamps, authentication, the
// quarantine, the relay and the Maildir) uses the bytes and fields this module produces, so what
// mxward checks is what it delivers. Only the header section is ever held in memory; the body
// streams past.
import type { HeaderFacts } from '../policy/header-from.ts';
import { readAuthor, readDelimited, skipComment } from '../policy/header-from.ts';

export type { HeaderFacts };

export interface HeaderField {
  /** Lower-cased field name, without the whitespace RFC 5322 §4.5 allowed before the colon. */
  name: string;
  /** The canonical field: `Name:value`, every line ended by CRLF, folds kept. */
  raw: string;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * A line ends at CRLF, a bare LF or a bare CR. Readers disagree about bare CR and LF (mailauth
 * kept `a<CR>From:` inside one field while the relay turned the CR into a line break), so mxward
 * takes each as a line break, the reading of the relay and of every mail client, and writes CRLF.
 * Returns the index after the terminator, or -1 when the buffer ends inside one (a CR whose next
 * byte is unknown yet).
 */
function lineEnd(buf: Buffer, at: number, final: boolean): { textEnd: number; next: number } | null {
  for (let i = at; i < buf.length; i++) {
    const b = buf[i];
    if (b === LF) return { textEnd: i, next: i + 1 };
    if (b === CR) {
      if (i + 1 < buf.length) return { textEnd: i, next: buf[i + 1] === LF ? i + 2 : i + 1 };
      return final ? { textEnd: i, next: i + 1 } : null;
    }
  }
  return final ? { textEnd: buf.length, next: buf.length } : null;
}

export interface HeaderEnd {
  /** Where the empty line starts: the header section is everything before it. */
  headerEnd: number;
  /** Just after the empty line's terminator. */
  bodyStart: number;
}

/**
 * Finds the empty line that ends the header section in a stream of chunks, looking at each byte
 * once (a client trickling one byte per packet costs linear time, not quadratic), with the same
 * line endings as lineEnd(): CRLF, bare LF, bare CR.
 */
export class HeaderEndScanner {
  #offset = 0;
  #lineStart = 0;
  #pendingCr = false;
  #found: HeaderEnd | null = null;

  /** Feeds the next chunk; returns the end once it has been seen (and keeps returning it). */
  push(chunk: Buffer): HeaderEnd | null {
    for (let i = 0; i < chunk.length && !this.#found; i++) {
      const at = this.#offset + i;
      const b = chunk[i];
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (b === LF) { this.#endLine(at - 1, at + 1); continue; }
        this.#endLine(at - 1, at);
        if (this.#found) break;
      }
      if (b === CR) this.#pendingCr = true;
      else if (b === LF) this.#endLine(at, at + 1);
    }
    this.#offset += chunk.length;
    return this.#found;
  }

  /** The stream has ended: a CR at the very end was a line break after all. */
  finish(): HeaderEnd | null {
    if (this.#pendingCr && !this.#found) { this.#pendingCr = false; this.#endLine(this.#offset - 1, this.#offset); }
    return this.#found;
  }

  #endLine(textEnd: number, next: number): void {
    if (textEnd === this.#lineStart) this.#found = { headerEnd: textEnd, bodyStart: next };
    this.#lineStart = next;
  }
}

/** The end of the header section in a buffer; with `final`, the buffer is the whole message. */
export function findHeaderEnd(buf: Buffer, final = false): HeaderEnd | null {
  const scanner = new HeaderEndScanner();
  return scanner.push(buf) ?? (final ? scanner.finish() : null);
}

/** Splits a header block into its lines, without terminators (the last line may be unterminated). */
function headerLines(block: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let at = 0;
  while (at < block.length) {
    const end = lineEnd(block, at, true)!;
    lines.push(block.subarray(at, end.textEnd));
    at = end.next;
  }
  return lines;
}

export type HeaderReading =
  | { ok: true; fields: HeaderField[]; changes: string[] }
  | { ok: false; problem: string };

/** Printable US-ASCII except the colon (RFC 5322 §2.2 ftext). */
function isFieldName(name: Buffer): boolean {
  if (name.length === 0) return false;
  for (const b of name) if (b < 33 || b > 126) return false;
  return true;
}

function isWsp(b: number): boolean {
  return b === 0x20 || b === 0x09;
}

/**
 * Reads a header block (without the empty line) into canonical fields, or says why it cannot be
 * read unambiguously. Normalised (every reader agrees on the result): bare CR or LF → CRLF, SP or
 * HTAB between a field name and its colon removed (RFC 5322 §4.5 obs-optional). Refused (readers
 * would disagree or guess): NUL, a line that is neither a field nor a continuation, a continuation
 * with no field before it, and any other byte in a field name (VT, FF, NBSP, 8-bit: JavaScript's
 * trim() removes some of them, Python's parser ends the header section at them).
 */
export function readHeaderSection(block: Buffer): HeaderReading {
  if (block.includes(0)) return { ok: false, problem: 'the header section contains a NUL byte' };
  const changes = new Set<string>();
  const fields: HeaderField[] = [];
  const lines = headerLines(block);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (isWsp(line[0])) {
      if (fields.length === 0) return { ok: false, problem: 'the first header line is a continuation line' };
      fields[fields.length - 1].raw += `${line.toString('latin1')}\r\n`;
      continue;
    }
    const colon = line.indexOf(0x3a);
    if (colon < 0) return { ok: false, problem: `header line ${n + 1} is not a header field` };
    let nameEnd = colon;
    while (nameEnd > 0 && isWsp(line[nameEnd - 1])) nameEnd--;
    if (nameEnd !== colon) changes.add('whitespace before a colon');
    const name = line.subarray(0, nameEnd);
    if (!isFieldName(name)) return { ok: false, problem: `header line ${n + 1} has a field name with a space, control or 8-bit character` };
    const nameText = name.toString('latin1');
    fields.push({ name: nameText.toLowerCase(), raw: `${nameText}:${line.subarray(colon + 1).toString('latin1')}\r\n` });
  }
  for (const f of fields) {
    // A fold inside a quoted display name or a comment is read as the end of the address by
    // Python's email (it reads `"Chief<CRLF> Executive" <ceo@…>` as the address `chief`).
    // Unfolding (RFC 5322 §2.2.3) changes nothing for a reader that follows the RFC, nor for a
    // relaxed DKIM signature (RFC 6376 §3.4.2 unfolds too), and leaves one reading.
    if (f.name === 'from' && f.raw.indexOf('\r\n') < f.raw.length - 2) {
      f.raw = f.raw.slice(0, -2).replace(/\r\n(?=[ \t])/g, '') + '\r\n';
      changes.add('folded From unfolded');
    }
  }
  if (countBareEndings(block) > 0) changes.add('bare CR or LF line endings');
  return { ok: true, fields, changes: [...changes] };
}

function countBareEndings(block: Buffer): number {
  let bare = 0;
  for (let i = 0; i < block.length; i++) {
    if (block[i] === CR && block[i + 1] !== LF) bare++;
    else if (block[i] === LF && (i === 0 || block[i - 1] !== CR)) bare++;
  }
  return bare;
}

/**
 * Splits a block that is already canonical (a spooled or quarantined message, a test string) into
 * fields; never throws and never refuses: a line that does not parse is kept under the name ''.
 */
export function splitHeaderFields(block: string): HeaderField[] {
  const reading = readHeaderSection(Buffer.from(block, 'latin1'));
  if (reading.ok) return reading.fields;
  const fields: HeaderField[] = [];
  for (const line of headerLines(Buffer.from(block, 'latin1')).map((l) => l.toString('latin1'))) {
    if (isWsp(line.charCodeAt(0)) && fields.length > 0) { fields[fields.length - 1].raw += `${line}\r\n`; continue; }
    const colon = line.indexOf(':');
    fields.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', raw: `${line}\r\n` });
  }
  return fields;
}

/** The unfolded value as text: bytes read as UTF-8 (RFC 6532), never as latin1. */
export function fieldValue(field: HeaderField): string {
  const colon = field.raw.indexOf(':');
  const value = field.raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '').replace(/\r\n$/, '');
  return Buffer.from(value, 'latin1').toString('utf8').trim();
}

/**
 * The authserv-id of an Authentication-Results value (RFC 8601 §2.2): leading comments and
 * whitespace skipped, a quoted-string unquoted, lower-cased, a trailing dot ignored. A forged
 * field must not escape stripping by `(c) ours`, `"ours"` or `ours.`.
 */
export function authservIdOf(value: string): string {
  let at = 0;
  for (;;) {
    while (at < value.length && /\s/.test(value[at])) at++;
    if (value[at] !== '(') break;
    const next = skipComment(value, at);
    at = next < 0 ? value.length : next;
  }
  let id: string;
  if (value[at] === '"') {
    // An unterminated quoted-string still names what it holds so far.
    id = readDelimited(value, at, '"', true)!.text;
  } else {
    const end = value.slice(at).search(/[\s;()]/);
    id = end < 0 ? value.slice(at) : value.slice(at, at + end);
  }
  return id.trim().toLowerCase().replace(/\.+$/, '');
}

/**
 * Removes what an untrusted sender must not be able to set (SPEC §5): every X-Mxward-* field and
 * any Authentication-Results claiming our authserv-id. Works on canonical names, so `X-Mxward-AuthAs :`
 * cannot survive as a nameless line.
 */
export function stripUntrustedFields(fields: HeaderField[], authservId: string): { kept: HeaderField[]; removed: number } {
  const ours = authservId.toLowerCase().replace(/\.+$/, '');
  const kept = fields.filter((f) => {
    if (f.name.startsWith('x-mxward-')) return false;
    if (f.name === 'authentication-results' && authservIdOf(fieldValue(f)) === ours) return false;
    return true;
  });
  return { kept, removed: fields.length - kept.length };
}

export function extractHeaderFacts(fields: HeaderField[]): HeaderFacts {
  const first = (name: string) => fields.find((f) => f.name === name);
  const mid = first('message-id');
  const subject = first('subject');
  const author = readAuthor(fields.filter((f) => f.name === 'from').map(fieldValue));
  return {
    headerFrom: author.addresses,
    author: author.author,
    messageId: mid ? fieldValue(mid).slice(0, 998) : null,
    subject: subject ? fieldValue(subject).slice(0, 998) : null,
  };
}

export type CanonicalMessage =
  | { ok: true; bytes: Buffer; fields: HeaderField[]; facts: HeaderFacts; removed: number; changes: string[] }
  | { ok: false; problem: string };

/**
 * A whole message held in memory, read the way end of DATA reads a streamed one: canonical header
 * section, untrusted fields removed, CRLF, body as sent. For the milter, tests and fuzzing.
 */
export function canonicalMessage(whole: Buffer, authservId: string): CanonicalMessage {
  const end = findHeaderEnd(whole, true);
  const reading = readHeaderSection(end ? whole.subarray(0, end.headerEnd) : whole);
  if (!reading.ok) return reading;
  const { kept, removed } = stripUntrustedFields(reading.fields, authservId);
  const header = Buffer.from(kept.map((f) => f.raw).join(''), 'latin1');
  const bytes = end ? Buffer.concat([header, Buffer.from('\r\n'), whole.subarray(end.bodyStart)]) : header;
  return { ok: true, bytes, fields: kept, facts: extractHeaderFacts(kept), removed, changes: reading.changes };
}
