// UTF-8 bytes carried as latin1 strings (one character per byte), for the big-file reader: the
// CSV splitter works on them as on text (csv-splitter.ts says why), and these helpers give the
// same characters a streaming UTF-8 TextDecoder would have given, replacement characters
// included (WHATWG Encoding §4.1: one U+FFFD per maximal invalid subpart).

const HIGH_BYTE = /[\x80-\xff]/g;

/** Index of the first character >= 0x80 at or after `from`, or Infinity. */
export function nextHighByte(text: string, from: number): number {
  HIGH_BYTE.lastIndex = from;
  const m = HIGH_BYTE.exec(text);
  return m === null ? Infinity : m.index;
}

function hasHighByte(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return true;
  return false;
}

/** The text of UTF-8 bytes held one per character. */
export function decodeUtf8Bytes(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** Decodes, in place, every field that holds a byte >= 0x80 (the others are ASCII already). */
export function decodeUtf8Fields(fields: string[]): void {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (hasHighByte(f)) fields[i] = decodeUtf8Bytes(f);
  }
}

/** UTF-16 length of the decoding of bytes [from, to), which must not cut a character. */
export function decodedLength(bytes: string, from: number, to: number): number {
  return hasHighByte(bytes.slice(from, to)) ? decodeUtf8Bytes(bytes.slice(from, to)).length : to - from;
}

/**
 * How many bytes at the end of `bytes` (0 to 3) begin a character not finished yet: the bytes a
 * streaming decoder keeps for its next call. Only a lead byte followed by fewer continuation
 * bytes than it needs, each in its allowed range, is kept; any other ending has already been
 * decoded or replaced.
 */
export function unfinishedTail(bytes: string): number {
  const n = bytes.length;
  for (let at = n - 1; at >= 0 && at >= n - 3; at--) {
    const lead = bytes.charCodeAt(at);
    if (lead < 0x80) return 0;
    if (lead < 0xc2) continue; // a continuation byte: its lead, if any, is further back
    if (lead > 0xf4) return 0;
    const needs = lead < 0xe0 ? 1 : lead < 0xf0 ? 2 : 3;
    const have = n - 1 - at;
    if (have >= needs) return 0;
    for (let k = 1; k <= have; k++) {
      const c = bytes.charCodeAt(at + k);
      // The second byte's range depends on the lead: no overlongs, surrogates or values past U+10FFFF.
      const low = k > 1 ? 0x80 : lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
      const high = k > 1 ? 0xbf : lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
      if (c < low || c > high) return 0;
    }
    return have + 1;
  }
  return 0;
}

/** EF BB BF, the UTF-8 byte-order mark, as a latin1 string. */
const BOM_BYTES = '\u00ef\u00bb\u00bf';

/**
 * Cuts a byte stream into latin1 strings as a streaming UTF-8 TextDecoder cuts it into text: a
 * character split between two reads is held back until its last byte (so each string ends after
 * a whole character, or after bytes the decoder has already replaced), a byte-order mark at the
 * very start is dropped (TextDecoder's default), and `end()` gives what the decoder's end would
 * have replaced by U+FFFD (those bytes decode to one U+FFFD too).
 */
export class Utf8ByteChunker {
  #held = '';
  #atStart: boolean;

  /** `atFileStart`: the bytes start at the file's first byte, where a BOM may be. */
  constructor(atFileStart: boolean) {
    this.#atStart = atFileStart;
  }

  /** The next string ('' when every byte is held back). */
  take(bytes: Buffer, from: number, to: number): string {
    let text = bytes.toString('latin1', from, to);
    if (this.#held) text = this.#held + text;
    const keep = unfinishedTail(text);
    this.#held = keep ? text.slice(text.length - keep) : '';
    if (keep) text = text.slice(0, text.length - keep);
    if (this.#atStart && text) {
      this.#atStart = false;
      if (text.startsWith(BOM_BYTES)) text = text.slice(BOM_BYTES.length);
    }
    return text;
  }

  end(): string {
    const rest = this.#held;
    this.#held = '';
    return rest;
  }
}
