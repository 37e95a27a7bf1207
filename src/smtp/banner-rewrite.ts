// `externalTagging: banner` (issue 18): a short notice at the top of the first text/plain and
// text/html parts, written in each part's own charset and transfer encoding. Two streaming passes
// over the spooled message: the survey (banner-survey.ts) decides, the rewrite copies every byte
// through unchanged except the chosen parts, into which the banner is spliced: a 7bit/8bit part
// gets the bytes at the offset, a quoted-printable part gets encoded lines between its own (the
// rest of its lines untouched), a base64 part is decoded and encoded again as it streams. Part
// heads are copied as they came: the banner is ASCII, so no charset or encoding changes. Memory
// is bounded by the splitter's line buffers and the spool writer's buffer, whatever the size.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Splitter } from 'mailsplit';
import type { BannerKind } from '../policy/external-tag.ts';
import { encodeQuotedPrintableAscii, htmlBanner, plainBanner } from '../policy/banner-text.ts';
import type { Spool, SpoolWriter } from '../spool/spool.ts';
import { Base64Decoder, Base64Encoder, decodeQpLine, LineSplitter, lineAligned, qpRawOffset, readQpLine } from './banner-codec.ts';
import { surveyForBanner } from './banner-survey.ts';
import type { BannerPartKind, BannerTarget } from './banner-survey.ts';

export type BannerOutcome =
  | { kind: 'rewritten'; writer: SpoolWriter; parts: BannerPartKind[]; skipped: string[] }
  | { kind: 'unchanged'; reason: string };

/**
 * Adds the banner into a new spool writer, or says why the message stays as it is (the caller
 * falls back to the header tag and traces the reason). The first writer is discarded on success.
 */
export async function addBannerToSpooled(spool: Spool, writer: SpoolWriter, kind: BannerKind, maxBytes: number): Promise<BannerOutcome> {
  if (writer.bytesWritten > maxBytes) {
    return { kind: 'unchanged', reason: `message of ${writer.bytesWritten} bytes is over externalTagBannerMaxBytes (${maxBytes})` };
  }
  const whole = writer.peekWhole();
  if (!whole) await writer.flush();
  const open = (): Readable => (whole ? Readable.from([whole]) : createReadStream(writer.path));
  const next = await spool.createWriter();
  try {
    const outcome = await rewriteWithBanner(open, kind, (chunk) => next.write(chunk));
    if (outcome.kind === 'unchanged') { await next.discard(); return outcome; }
    await writer.discard();
    return { ...outcome, writer: next };
  } catch (err) {
    await next.discard();
    throw err;
  }
}

export type RewriteOutcome = { kind: 'rewritten'; parts: BannerPartKind[]; skipped: string[] } | { kind: 'unchanged'; reason: string };

/** The two passes over `open()` (called twice), the result handed to `write` in order. */
export async function rewriteWithBanner(open: () => Readable, kind: BannerKind, write: (chunk: Buffer) => Promise<void>): Promise<RewriteOutcome> {
  const survey = await surveyForBanner(open());
  if (!survey.ok) return { kind: 'unchanged', reason: survey.reason };
  if (survey.targets.length === 0) {
    return { kind: 'unchanged', reason: survey.skipped.length ? survey.skipped.join('; ') : 'no text/plain or text/html part to carry a banner' };
  }
  const byIndex = new Map(survey.targets.map((t) => [t.nodeIndex, t]));
  let nodeIndex = -1;
  let active: PartRewriter | null = null;
  for await (const item of Readable.from(lineAligned(open())).pipe(new Splitter())) {
    if (item.type === 'body' && active) { await write(active.push(item.value)); continue; }
    if (active) { await write(active.end()); active = null; }
    if (item.type !== 'node') { await write(item.value); continue; }
    nodeIndex++;
    await write(item.getHeaders());
    const target = byIndex.get(nodeIndex);
    if (target) active = partRewriter(target, bannerFor(target.kind, kind));
  }
  if (active) await write(active.end());
  return { kind: 'rewritten', parts: survey.targets.map((t) => t.kind), skipped: survey.skipped };
}

function bannerFor(part: BannerPartKind, kind: BannerKind): Buffer {
  return Buffer.from(part === 'text/html' ? htmlBanner(kind) : plainBanner(kind), 'latin1');
}

/** Rewrites one part's body, chunk by chunk. */
interface PartRewriter {
  push(raw: Buffer): Buffer;
  end(): Buffer;
}

function partRewriter(target: BannerTarget, banner: Buffer): PartRewriter {
  if (target.encoding === 'quoted-printable') return qpRewriter(target.insertAt, banner);
  const splice = spliceAt(target.insertAt, banner);
  if (target.encoding === 'identity') return splice;
  const decoder = new Base64Decoder();
  const encoder = new Base64Encoder();
  let lastByte = -1;
  return {
    push(raw) {
      if (raw.length) lastByte = raw[raw.length - 1];
      return encoder.push(splice.push(decoder.push(raw)));
    },
    end() {
      const tail = Buffer.concat([encoder.push(splice.push(decoder.end())), encoder.push(splice.end()), encoder.end()]);
      // The splitter leaves a part's last line break to the boundary; a single-part message keeps its own.
      return lastByte === 0x0a ? Buffer.concat([tail, Buffer.from('\r\n')]) : tail;
    },
  };
}

/** Copies bytes through, the banner inserted once `insertAt` bytes have passed (or at the end). */
function spliceAt(insertAt: number, banner: Buffer): PartRewriter {
  let passed = 0;
  let done = false;
  return {
    push(bytes) {
      if (done || passed + bytes.length < insertAt) { passed += bytes.length; return bytes; }
      const cut = insertAt - passed;
      done = true;
      passed += bytes.length;
      return Buffer.concat([bytes.subarray(0, cut), banner, bytes.subarray(cut)]);
    },
    end() {
      if (done) return Buffer.alloc(0);
      done = true;
      return banner;
    },
  };
}

/**
 * Quoted-printable: the encoded lines are read one by one and copied; in the line where the
 * decoded offset falls, a soft line break ends the sender's text so far, the banner follows as
 * encoded lines of its own (ending in a hard break), and the rest of the line carries on.
 */
function qpRewriter(insertAt: number, banner: Buffer): PartRewriter {
  const encoded = Buffer.from(encodeQuotedPrintableAscii(banner.toString('latin1')), 'latin1');
  const lines = new LineSplitter();
  let decoded = 0;
  let done = false;
  const copy = (raw: Buffer[]): Buffer => Buffer.concat(raw.map((line) => {
    const read = readQpLine(line);
    const before = decoded;
    decoded += decodeQpLine(read).length;
    if (done || decodeQpLine({ ...read, broken: false }).length + before < insertAt) return line;
    done = true;
    const at = qpRawOffset(read.text, insertAt - before);
    return at === 0 ? Buffer.concat([encoded, line]) : Buffer.concat([line.subarray(0, at), SOFT_BREAK, encoded, line.subarray(at)]);
  }));
  return {
    push: (raw) => copy(lines.push(raw)),
    end() {
      const rest = copy(lines.end());
      if (done) return rest;
      done = true;
      // An empty part, or one shorter than the offset: the banner goes last, after a soft break.
      return Buffer.concat([rest, rest.length && rest[rest.length - 1] !== 0x0a ? SOFT_BREAK : Buffer.alloc(0), encoded]);
    },
  };
}

const SOFT_BREAK = Buffer.from('=\r\n');
