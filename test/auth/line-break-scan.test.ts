// Issue 17: mxward's replacement for mailauth's byte-by-byte bare-<LF> rewrite (auth/line-break-scan.ts)
// must give exactly what the original gives: the same pieces, cut at the same places, and the
// same carried state, for any bytes cut into chunks anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { agreeOnProbes, crlfPieces, installLineBreakScan } from '../../src/auth/line-break-scan.ts';
import type { LineBreakState } from '../../src/auth/line-break-scan.ts';

const require = createRequire(import.meta.url);
type Rewriter = (this: LineBreakState, input: Buffer) => Iterable<Buffer>;
const { MessageParser } = require('mailauth/lib/dkim/message-parser.js') as { MessageParser: { prototype: { ensureLinebreaks: Rewriter } } };
// Taken before anything installs the replacement.
const original = MessageParser.prototype.ensureLinebreaks;

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

function pieces(rewrite: Rewriter, chunks: Buffer[]): { pieces: string[]; lastByte: number | undefined } {
  const state: LineBreakState = {};
  const out: string[] = [];
  for (const c of chunks) for (const p of rewrite.call(state, c)) out.push(p.toString('latin1'));
  return { pieces: out, lastByte: state.lastByte };
}

test('the indexOf scan yields the original pieces and state for random bytes cut anywhere', () => {
  assert.notEqual(original, crlfPieces, 'the original must be mailauth\'s own method');
  const next = random(17);
  const alphabet = [0x61, 0x20, 0x09, 0x0d, 0x0a, 0x0a, 0x0d, 0x2e];
  for (let n = 0; n < 3000; n++) {
    const bytes = Buffer.from(Array.from({ length: Math.floor(next() * 40) }, () => alphabet[Math.floor(next() * alphabet.length)]!));
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const len = 1 + Math.floor(next() * 9);
      chunks.push(bytes.subarray(at, at + len));
      at += len;
    }
    assert.deepEqual(pieces(crlfPieces, chunks), pieces(original, chunks), `case ${n}: ${JSON.stringify(chunks.map((c) => c.toString('latin1')))}`);
  }
});

test('a message with only CRLF line ends comes through as the one piece it was', () => {
  const body = Buffer.from('Subject: a\r\n\r\n' + 'line of text\r\n'.repeat(4000));
  const out = pieces(crlfPieces, [body]);
  assert.equal(out.pieces.length, 1);
  assert.equal(out.pieces[0], body.toString('latin1'));
});

test('the probes tell a rewriter that differs from the original, and install uses only an agreeing one', () => {
  const unchanged: Rewriter = function* (input) { yield input; };
  assert.equal(agreeOnProbes(original, unchanged), false);
  assert.equal(agreeOnProbes(original, crlfPieces), true);
  assert.equal(installLineBreakScan(), true);
  assert.equal(MessageParser.prototype.ensureLinebreaks, crlfPieces);
});
