// Two byte-by-byte loops of mailauth's DKIM message parser, replaced by scans that jump from
// <LF> to <LF> with Buffer#indexOf (issue 17):
// - ensureLinebreaks turns every bare <LF> into <CRLF> before the body is hashed, keeping the last
//   byte seen in a property on every step: 190 us of CPU on a 50 KB message, 6-7 % of what mxward
//   spent on it with authentication on, although a message that came over SMTP has no bare <LF>;
// - processChunk finds the end of the header section by pushing every header byte into an array
//   and copying its last four out again: 65-80 us on an 860-byte header, 3-4 % at 1 KB.
//
// Wrapped rather than changed, as key-cache.ts does: the methods are replaced on the parser's
// prototype by ones that give exactly the same results (the same pieces cut at the same places,
// the same header section and body chunks handed on, the same state left behind), and only after
// they gave the originals' answers on a set of probes, so a mailauth release that changes either
// method keeps its own. The change belongs upstream.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const LF = 0x0a;
const CR = 0x0d;

/** The state the method keeps between chunks: the last byte of the previous one. */
export interface LineBreakState { lastByte?: number }

type Rewriter = (this: LineBreakState, input: Buffer) => Iterable<Buffer>;

/** Each bare <LF> of `input` as <CRLF>, in pieces cut where mailauth's own loop cuts them. */
export function* crlfPieces(this: LineBreakState, input: Buffer): Generator<Buffer> {
  let pos = 0;
  for (let i = input.indexOf(LF); i >= 0; i = input.indexOf(LF, i + 1)) {
    const before = i === 0 ? this.lastByte : input[i - 1];
    if (before === CR) continue;
    yield pos === i ? Buffer.from('\r\n') : Buffer.concat([input.subarray(pos, i), Buffer.from('\r\n')]);
    pos = i + 1;
  }
  if (input.length > 0) this.lastByte = input[input.length - 1];
  if (pos === 0) yield input;
  else if (pos < input.length) yield input.subarray(pos);
}

/** Chunk sequences on which the replacement must give the original's pieces before it is used. */
const PROBES: readonly string[][] = [
  ['Subject: x\r\n\r\nbody\r\n'], ['a\nb\n'], ['\n'], ['\r\n', '\nx'], ['x\r', '\ny\n'], ['\n\n\r\n\n'],
  ['ab', '\n', 'c\r', '\r\n', '\n'], ['no line break'], ['\r\r\n\n\r'],
];

/** The pieces each rewriter yields for a probe (chunk by chunk), and the state it leaves. */
function run(rewrite: Rewriter, chunks: string[]): string {
  const state: LineBreakState = {};
  const out: string[] = [];
  for (const c of chunks) for (const piece of rewrite.call(state, Buffer.from(c, 'latin1'))) out.push(piece.toString('latin1'));
  return JSON.stringify([out, state.lastByte]);
}

/** Whether two rewriters agree on every probe. */
export function agreeOnProbes(a: Rewriter, b: Rewriter): boolean {
  return PROBES.every((chunks) => run(a, chunks) === run(b, chunks));
}

/** The part of mailauth's MessageParser the header scan reads and keeps. */
export interface HeaderScanState {
  state: string;
  stateBytes: number[];
  headerBytes: number;
  headerChunks: Buffer[];
  emitHeaders(chunk?: Buffer): Promise<void>;
  nextChunk(chunk: Buffer): Promise<void>;
}

/**
 * Where the header section of `chunk` ends: the index of the <LF> of its empty line (or of the
 * first line, when that is empty), or -1. Leaves `stateBytes` (the last four bytes seen) and
 * `headerBytes` (header bytes seen) as the byte-by-byte loop leaves them.
 */
function headerEndIn(p: HeaderScanState, chunk: Buffer): number {
  const before = p.stateBytes;
  const seen = p.headerBytes;
  // The byte `back` places before chunk[i], from the chunk or from the bytes kept before it.
  const byteBefore = (i: number, back: number): number | undefined => (i - back >= 0 ? chunk[i - back] : before[before.length + i - back]);
  let end = -1;
  for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
    const b1 = byteBefore(i, 1);
    const count = seen + i + 1;
    if (b1 === LF || (b1 === CR && byteBefore(i, 2) === LF) || count === 1 || (count === 2 && b1 === CR)) {
      end = i;
      break;
    }
  }
  const used = end >= 0 ? end + 1 : chunk.length;
  const last: number[] = [];
  for (let k = Math.max(0, used - 4); k < used; k++) last.push(chunk[k]!);
  p.stateBytes = used >= 4 ? last : [...before, ...last].slice(-4);
  p.headerBytes = seen + used;
  return end;
}

/** mailauth's processChunk, with the header section's end found by headerEndIn. */
export async function processChunkScanned(this: HeaderScanState, input: Buffer): Promise<void> {
  let chunk = input;
  if (!chunk || !chunk.length) return;
  if (this.state === 'header') {
    const end = headerEndIn(this, chunk);
    if (end === chunk.length - 1) {
      await this.emitHeaders(chunk);
      return;
    }
    if (end >= 0) {
      await this.emitHeaders(chunk.slice(0, end + 1));
      chunk = chunk.slice(end + 1);
    }
  }
  if (this.state !== 'body') {
    this.headerChunks.push(chunk);
    return;
  }
  await this.nextChunk(chunk);
}

type ChunkHandler = (this: HeaderScanState, chunk: Buffer) => Promise<void>;
interface ParserClass { new (): HeaderScanState & { headers: unknown }; prototype: { processChunk: ChunkHandler; ensureLinebreaks: Rewriter } }

/** Chunk sequences on which the header scan must hand on what the original hands on. */
const HEADER_PROBES: readonly string[][] = [
  ['A: 1\r\nB: 2\r\n\r\nbody\r\n'], ['A: 1\r\n', '\r\n', 'body'], ['A: 1\r', '\n\r', '\nbody'], ['\r\nbody\r\n\r\n'],
  ['\nbody'], ['A: 1\n\nbody\n'], ['A: 1\r\n\r', '\n'], ['A', ': 1\r\n', 'B: 2\r\n', '\r\n', 'x'], ['no end'], ['A: 1\n\r\nB'],
];

/** Everything a parser of class `Parser` with `handler` as its processChunk hands on and keeps for these chunks. */
export async function headerScanTrace(Parser: ParserClass, handler: ChunkHandler, chunks: string[]): Promise<string> {
  const out: string[] = [];
  const p = new Parser();
  p.emitHeaders = async function (this: HeaderScanState, chunk?: Buffer) {
    this.state = 'body';
    if (chunk) this.headerChunks.push(chunk);
    out.push(`headers ${Buffer.concat(this.headerChunks).toString('latin1')}`);
  };
  p.nextChunk = async (chunk: Buffer) => { out.push(`body ${chunk.toString('latin1')}`); };
  for (const c of chunks) await handler.call(p, Buffer.from(c, 'latin1'));
  return JSON.stringify([out, p.state, p.stateBytes, p.headerBytes, p.headerChunks.map((c) => c.toString('latin1'))]);
}

/** Whether two chunk handlers hand on the same header sections and body chunks and keep the same state on every probe. */
export async function headerScansAgree(Parser: ParserClass, a: ChunkHandler, b: ChunkHandler): Promise<boolean> {
  for (const chunks of HEADER_PROBES) if (await headerScanTrace(Parser, a, chunks) !== await headerScanTrace(Parser, b, chunks)) return false;
  return true;
}

/** mailauth's MessageParser class. */
export function mailauthParser(): ParserClass {
  return (require('mailauth/lib/dkim/message-parser.js') as { MessageParser: ParserClass }).MessageParser;
}

let installed: Promise<void> | null = null;

/**
 * Installs crlfPieces and processChunkScanned on mailauth's MessageParser (once per process), each
 * only if it agrees with the method it replaces on the probes.
 */
export function installParserScans(): Promise<void> {
  installed ??= (async () => {
    const Parser = mailauthParser();
    const proto = Parser.prototype;
    if (typeof proto.ensureLinebreaks === 'function' && agreeOnProbes(proto.ensureLinebreaks, crlfPieces)) proto.ensureLinebreaks = crlfPieces;
    if (typeof proto.processChunk === 'function' && await headerScansAgree(Parser, proto.processChunk, processChunkScanned)) proto.processChunk = processChunkScanned;
  })();
  return installed;
}
