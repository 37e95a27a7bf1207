// Byte streams -> decoded text chunks. EAC reports are often UTF-16LE with a BOM, PowerShell 7
// writes UTF-8 without one, Windows PowerShell sometimes UTF-8 with one: decide from the first
// bytes, never from the file name.
import { createReadStream } from 'node:fs';
import { glob, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type TextEncodingName = 'utf-8' | 'utf-16le' | 'utf-16be';

/** BOM first; without one, NUL bytes in odd positions of ASCII text betray UTF-16LE. */
export function sniffEncoding(head: Uint8Array): TextEncodingName {
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  if (head.length >= 4 && head[0] !== 0 && head[1] === 0 && head[2] !== 0 && head[3] === 0) return 'utf-16le';
  if (head.length >= 4 && head[0] === 0 && head[1] !== 0 && head[2] === 0 && head[3] !== 0) return 'utf-16be';
  return 'utf-8';
}

/** Decodes a byte stream incrementally; a character split across chunks is kept for the next one. */
export function decodeChunks(bytes: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  return textOf(decodePieces(bytes));
}

/** The text of decoded pieces, without the empty strings of pieces whose bytes were held back. */
export async function* textOf(pieces: AsyncIterable<DecodedPiece>): AsyncGenerator<string> {
  for await (const p of pieces) if (p.text) yield p.text;
}

/**
 * A piece of an input as decodeChunks reads it: its decoded text ('' when the decoder holds all
 * of its bytes back) and where it came from: `bytes` read in `encoding`, text that came as text
 * (bytes null), or the decoder's end (`end`). Lets a reader pick the format from the text and
 * then read a UTF-8 CSV from the bytes (detect-input.ts).
 */
export interface DecodedPiece { text: string; bytes: Uint8Array | null; encoding: TextEncodingName | null; end: boolean }

/** A byte stream decoded piece by piece, each with its bytes (pieces whose text is '' included). */
export async function* decodePieces(bytes: AsyncIterable<Uint8Array | string>): AsyncGenerator<DecodedPiece> {
  let decoder: TextDecoder | null = null;
  let encoding: TextEncodingName | null = null;
  for await (const chunk of bytes) {
    if (typeof chunk === 'string') { yield { text: chunk, bytes: null, encoding, end: false }; continue; }
    if (!decoder) { encoding = sniffEncoding(chunk); decoder = new TextDecoder(encoding); }
    yield { text: decoder.decode(chunk, { stream: true }), bytes: chunk, encoding, end: false };
  }
  if (decoder) yield { text: decoder.decode(), bytes: null, encoding, end: true };
}

export interface NamedInput {
  name: string;
  open(): AsyncIterable<Uint8Array | string>;
}

export const READ_CHUNK_BYTES = 1 << 16;

export function fileInput(path: string): NamedInput {
  return { name: path, open: () => createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }) };
}

const GLOB_CHARS = /[*?[\]{}]/;

async function walkDirectory(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walkDirectory(full, out);
    else if (e.isFile()) out.push(full);
  }
}

export type ExpandResult = { files: string[]; missing: string[] };

/** Arguments -> files: directories are walked (sorted, dot-files skipped), globs expanded. */
export async function expandPaths(args: string[]): Promise<ExpandResult> {
  const files: string[] = [];
  const missing: string[] = [];
  for (const arg of args) {
    if (GLOB_CHARS.test(arg)) {
      const before = files.length;
      for await (const match of glob(arg)) files.push(String(match));
      if (files.length === before) missing.push(arg);
      continue;
    }
    const info = await stat(arg).catch(() => null);
    if (!info) missing.push(arg);
    else if (info.isDirectory()) await walkDirectory(arg, files);
    else files.push(arg);
  }
  return { files, missing };
}
