// Content-Transfer-Encoding for the banner rewrite (issue 18), chunk by chunk so a part is never
// held whole. Written here rather than taken from libqp/libbase64 (which mailsplit uses) because
// the rewrite must know, for quoted-printable, where in the encoded lines a decoded offset falls:
// the banner is spliced into the sender's encoded text at that point and every other line is
// copied through unchanged. Both the survey and the rewrite use these same decoders, so the
// offsets they agree on are counted the same way.

/** `=XX` escapes decoded; a lone `=` stays as written (RFC 2045 §6.7 note 1: be lenient). */
function decodeQpText(text: Buffer): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const b = text[i];
    if (b === 0x3d && i + 2 < text.length && isHex(text[i + 1]) && isHex(text[i + 2])) {
      out[n++] = Number.parseInt(text.toString('latin1', i + 1, i + 3), 16);
      i += 2;
    } else out[n++] = b;
  }
  return out.subarray(0, n);
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/** One encoded line: its text (without the line break) and whether it ends in a soft break. */
export interface QpLine {
  text: Buffer;
  soft: boolean;
  /** The line had a line break (the last line of a part may not). */
  broken: boolean;
}

/** Splits a raw line (with its CRLF or LF, if any) into content and soft-break flag. */
export function readQpLine(raw: Buffer): QpLine {
  let end = raw.length;
  const broken = end > 0 && raw[end - 1] === 0x0a;
  if (broken) end -= end > 1 && raw[end - 2] === 0x0d ? 2 : 1;
  let content = end;
  // Transports may pad lines with white space; it is not part of the text (§6.7 rule 3).
  while (content > 0 && (raw[content - 1] === 0x20 || raw[content - 1] === 0x09)) content--;
  const soft = content > 0 && raw[content - 1] === 0x3d;
  return { text: raw.subarray(0, soft ? content - 1 : broken ? end : raw.length), soft, broken };
}

/** The decoded bytes of one line: its text, and CRLF after a hard line break. */
export function decodeQpLine(line: QpLine): Buffer {
  const text = decodeQpText(line.text);
  return line.broken && !line.soft ? Buffer.concat([text, CRLF]) : text;
}

/**
 * The raw offset in `text` of the escape boundary where `decodedCount` decoded bytes have been
 * produced (never inside an `=XX`).
 */
export function qpRawOffset(text: Buffer, decodedCount: number): number {
  let produced = 0;
  let i = 0;
  while (i < text.length && produced < decodedCount) {
    i += text[i] === 0x3d && i + 2 < text.length && isHex(text[i + 1]) && isHex(text[i + 2]) ? 3 : 1;
    produced++;
  }
  return i;
}

const CRLF = Buffer.from('\r\n');

/** Splits a byte stream into lines (each with its LF), holding only the unfinished last one. */
export class LineSplitter {
  #rest: Buffer | null = null;
  push(chunk: Buffer): Buffer[] {
    const data = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let lf = data.indexOf(0x0a); lf >= 0; lf = data.indexOf(0x0a, start)) {
      lines.push(data.subarray(start, lf + 1));
      start = lf + 1;
    }
    this.#rest = start < data.length ? data.subarray(start) : null;
    return lines;
  }
  end(): Buffer[] {
    const last = this.#rest;
    this.#rest = null;
    return last ? [last] : [];
  }
}

/** Base64 in, bytes out; white space and line breaks ignored, quanta completed across chunks. */
export class Base64Decoder {
  #pending = '';
  push(chunk: Buffer): Buffer {
    const text = this.#pending + chunk.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, '');
    const whole = text.length - (text.length % 4);
    this.#pending = text.slice(whole);
    return Buffer.from(text.slice(0, whole), 'base64');
  }
  end(): Buffer {
    const rest = this.#pending;
    this.#pending = '';
    return Buffer.from(rest, 'base64');
  }
}

/** Bytes in, base64 out in 76-character lines (RFC 2045 §6.8) joined by CRLF, no final break. */
export class Base64Encoder {
  #pending: Buffer = Buffer.alloc(0);
  #lines = 0;
  push(chunk: Buffer): Buffer {
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const whole = data.length - (data.length % 57);
    this.#pending = Buffer.from(data.subarray(whole));
    return this.#encode(data.subarray(0, whole));
  }
  end(): Buffer {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return this.#encode(rest);
  }
  #encode(bytes: Buffer): Buffer {
    const parts: string[] = [];
    for (let at = 0; at < bytes.length; at += 57) {
      parts.push(`${this.#lines++ > 0 ? '\r\n' : ''}${bytes.subarray(at, at + 57).toString('base64')}`);
    }
    return Buffer.from(parts.join(''), 'latin1');
  }
}

/** The transfer encodings a banner can be written in; any other leaves the part alone. */
export type BannerEncoding = 'identity' | 'quoted-printable' | 'base64';

/** 7bit, 8bit, binary and none are the bytes themselves (RFC 2045 §6.2). */
export function bannerEncoding(cte: string | false): BannerEncoding | null {
  const name = (cte || '7bit').trim().toLowerCase();
  if (name === '7bit' || name === '8bit' || name === 'binary') return 'identity';
  if (name === 'quoted-printable' || name === 'base64') return name;
  return null;
}

/** Decodes a part's body chunk by chunk. */
export interface PartDecoder {
  push(raw: Buffer): Buffer;
  end(): Buffer;
}

export function partDecoder(encoding: BannerEncoding): PartDecoder {
  if (encoding === 'base64') return new Base64Decoder();
  if (encoding === 'identity') return { push: (raw) => raw, end: () => Buffer.alloc(0) };
  const lines = new LineSplitter();
  const decode = (raw: Buffer[]) => Buffer.concat(raw.map((l) => decodeQpLine(readQpLine(l))));
  return { push: (raw) => decode(lines.push(raw)), end: () => decode(lines.end()) };
}

/**
 * The stream re-cut so every piece ends just after a line feed. mailsplit's splitter (5.4.6) drops
 * bytes when a piece ends between the CR and the LF of a body line (a file stream's 64 KiB reads
 * do that about once per 80 such boundaries), and reads line-aligned pieces byte for byte.
 */
export async function* lineAligned(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let rest: Buffer | null = null;
  for await (const chunk of source) {
    const data: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    const lf = data.lastIndexOf(0x0a);
    if (lf < 0) { rest = data; continue; }
    rest = lf + 1 < data.length ? data.subarray(lf + 1) : null;
    yield data.subarray(0, lf + 1);
  }
  if (rest) yield rest;
}
