// Which DKIM signatures mailauth gets to verify (issue 19, RFC 6376 §6.1: a verifier MAY limit
// the signatures it checks). Every signature costs a key lookup, a body hash per distinct
// (canonicalisation, l=) pair over the whole body, and an RSA operation, so an attacker who adds
// thousands of them owns the CPU. At most `max` are kept in the bytes handed to mailauth, those
// whose d= aligns with the author domain first (they are the ones DMARC can use); the others are
// dropped from that copy only and reported as not evaluated. The spooled message is untouched.
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { relaxedAligned } from './org-domain.ts';

export interface SignatureRef {
  domain: string;
  selector: string;
  /** Whether d= aligns (relaxed, Public Suffix List) with the author domain. */
  aligned: boolean;
}

export interface DkimSelection {
  kept: SignatureRef[];
  /** Signatures present but not evaluated (over the cap). */
  dropped: number;
}

interface RawField { start: number; end: number; name: string; value: string }

/** Splits a header block (latin1, one char per byte) into fields with their byte spans. */
function fieldsOf(block: string): RawField[] {
  const fields: RawField[] = [];
  const lineRe = /[^\n]*\n|[^\n]+$/g;
  let current: RawField | null = null;
  for (let m = lineRe.exec(block); m; m = lineRe.exec(block)) {
    const line = m[0];
    if (line === '' ) break;
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.end = m.index + line.length;
      current.value += line;
      continue;
    }
    const colon = line.indexOf(':');
    current = { start: m.index, end: m.index + line.length, name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', value: colon > 0 ? line.slice(colon + 1) : '' };
    fields.push(current);
  }
  return fields;
}

const TAG_PATTERNS: Record<'d' | 's', RegExp> = { d: /(?:^|;)\s*d\s*=\s*([^;]*)/i, s: /(?:^|;)\s*s\s*=\s*([^;]*)/i };

function tag(value: string, name: 'd' | 's'): string {
  const m = TAG_PATTERNS[name].exec(value);
  return m ? m[1].replace(/\s+/g, '').toLowerCase() : '';
}

/** Chooses the signatures to verify and returns the header block with only those left. */
export function selectSignatures(headerBlock: Buffer, authorDomain: string | null, max: number): { block: Buffer; selection: DkimSelection } {
  const text = headerBlock.toString('latin1');
  const sigs = fieldsOf(text).filter((f) => f.name === 'dkim-signature').map((f) => {
    const domain = tag(f.value, 'd');
    return { field: f, ref: { domain, selector: tag(f.value, 's'), aligned: !!authorDomain && !!domain && relaxedAligned(domain, authorDomain) } };
  });
  if (sigs.length <= max) return { block: headerBlock, selection: { kept: sigs.map((s) => s.ref), dropped: 0 } };
  // Stable: aligned signatures first, each group in header order.
  const ordered = [...sigs.filter((s) => s.ref.aligned), ...sigs.filter((s) => !s.ref.aligned)];
  const keep = new Set(ordered.slice(0, max).map((s) => s.field));
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of sigs) {
    if (keep.has(s.field)) continue;
    parts.push(headerBlock.subarray(at, s.field.start));
    at = s.field.end;
  }
  parts.push(headerBlock.subarray(at));
  return { block: Buffer.concat(parts), selection: { kept: sigs.filter((s) => keep.has(s.field)).map((s) => s.ref), dropped: sigs.length - keep.size } };
}

/** Offset of the first byte of the body (after the empty line), or -1 when there is none yet. */
function bodyOffset(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  return lf >= 0 ? lf + 2 : -1;
}

const READ_CHUNK_BYTES = 64 * 1024;

/** Reads a file's header block, chunk by chunk, up to the empty line (or the whole file). */
async function readHeaderBlock(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(READ_CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK_BYTES, total);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      const end = bodyOffset(Buffer.concat(chunks));
      if (end >= 0) return Buffer.concat(chunks).subarray(0, end);
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

const FEED_CHUNK_BYTES = 64 * 1024;

/**
 * Feeds bytes to mailauth in chunks, yielding to the event loop between them: given one large
 * Buffer it would canonicalise and hash the whole body in a single turn, and every other session
 * would wait for it (issue 19).
 */
function chunked(bytes: Buffer): Readable {
  return Readable.from((async function* () {
    for (let at = 0; at < bytes.length; at += FEED_CHUNK_BYTES) {
      if (at > 0) await new Promise<void>((r) => setImmediate(r));
      yield bytes.subarray(at, Math.min(bytes.length, at + FEED_CHUNK_BYTES));
    }
  })(), { objectMode: false });
}

/** A header field as the canonical header step already read it (smtp/header-section.ts). */
export interface ParsedField { name: string; raw: string }

/**
 * The selection from fields read earlier, when none has to be dropped (the usual case): the
 * header section is then neither split again nor read back from the spool file (issue 17).
 */
function selectFromFields(fields: readonly ParsedField[], authorDomain: string | null, max: number): DkimSelection | null {
  const kept: SignatureRef[] = [];
  for (const f of fields) {
    if (f.name !== 'dkim-signature') continue;
    const value = f.raw.slice(f.raw.indexOf(':') + 1);
    const domain = tag(value, 'd');
    kept.push({ domain, selector: tag(value, 's'), aligned: !!authorDomain && !!domain && relaxedAligned(domain, authorDomain) });
  }
  return kept.length <= max ? { kept, dropped: 0 } : null;
}

/**
 * The message as mailauth should read it: in memory or from the spool file, with the selection
 * applied. `fields`: the message's header fields as already read, when the caller has them.
 */
export async function prepareForVerification(message: { bytes: Buffer | null; path: string; fields?: readonly ParsedField[] }, authorDomain: string | null, max: number): Promise<{ input: Readable; selection: DkimSelection }> {
  const early = message.fields ? selectFromFields(message.fields, authorDomain, max) : null;
  if (early) return { input: message.bytes ? chunked(message.bytes) : createReadStream(message.path), selection: early };
  if (message.bytes) {
    const end = bodyOffset(message.bytes);
    const header = end >= 0 ? message.bytes.subarray(0, end) : message.bytes;
    const { block, selection } = selectSignatures(header, authorDomain, max);
    if (selection.dropped === 0) return { input: chunked(message.bytes), selection };
    return { input: chunked(Buffer.concat([block, end >= 0 ? message.bytes.subarray(end) : Buffer.alloc(0)])), selection };
  }
  const header = await readHeaderBlock(message.path);
  const { block, selection } = selectSignatures(header, authorDomain, max);
  if (selection.dropped === 0) return { input: createReadStream(message.path), selection };
  const rest = createReadStream(message.path, { start: header.length });
  return { input: Readable.from((async function* () { yield* chunked(block); yield* rest; })(), { objectMode: false }), selection };
}
