// mailauth's DKIM parser turns every bare <LF> of a message into <CRLF> before it hashes the body,
// and it looks for them one byte at a time in JavaScript, keeping the last byte seen in a property
// on every step. On a 50 KB message that loop was 6-7 % of the CPU mxward spent with
// authentication on (issue 17), although a message that came over SMTP has no bare <LF> at all.
//
// Wrapped rather than changed, as key-cache.ts does: the parser's method is replaced on its
// prototype by one that jumps from <LF> to <LF> with Buffer#indexOf and yields exactly the same
// pieces (the same bytes, cut at the same places, and the same `lastByte` afterwards). The
// replacement is installed only after it gave the original's answers on a set of probes, so a
// mailauth release that changes the method keeps its own. The change belongs upstream.
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

let installed = false;

/**
 * Installs crlfPieces as mailauth's MessageParser.ensureLinebreaks (once per process) if it agrees
 * with the method it replaces; returns whether the replacement is in use.
 */
export function installLineBreakScan(): boolean {
  if (installed) return true;
  const { MessageParser } = require('mailauth/lib/dkim/message-parser.js') as { MessageParser: { prototype: { ensureLinebreaks?: Rewriter } } };
  const original = MessageParser.prototype.ensureLinebreaks;
  if (typeof original !== 'function' || !agreeOnProbes(original, crlfPieces)) return false;
  MessageParser.prototype.ensureLinebreaks = crlfPieces;
  installed = true;
  return true;
}
