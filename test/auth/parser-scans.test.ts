// Issue 17: mxward's replacements for two byte-by-byte loops of mailauth's DKIM message parser
// (auth/parser-scans.ts) must give exactly what the originals give, for any bytes cut into chunks
// anywhere: the bare-<LF> rewrite the same pieces and carried state, the header scan the same
// header section, the same body chunks and the same state left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agreeOnProbes, crlfPieces, headerScanTrace, headerScansAgree, installParserScans, mailauthParser, processChunkScanned } from '../../src/auth/parser-scans.ts';
import type { LineBreakState } from '../../src/auth/parser-scans.ts';

const Parser = mailauthParser();
// Taken before anything installs the replacements.
const originalRewrite = Parser.prototype.ensureLinebreaks;
const originalChunk = Parser.prototype.processChunk;
type Rewriter = (this: LineBreakState, input: Buffer) => Iterable<Buffer>;

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Random bytes from `alphabet`, cut into random chunks of 1 to 9 bytes. */
function randomChunks(next: () => number, alphabet: number[], maxLength: number): Buffer[] {
  const bytes = Buffer.from(Array.from({ length: Math.floor(next() * maxLength) }, () => alphabet[Math.floor(next() * alphabet.length)]!));
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const len = 1 + Math.floor(next() * 9);
    chunks.push(bytes.subarray(at, at + len));
    at += len;
  }
  return chunks;
}

function pieces(rewrite: Rewriter, chunks: Buffer[]): { pieces: string[]; lastByte: number | undefined } {
  const state: LineBreakState = {};
  const out: string[] = [];
  for (const c of chunks) for (const p of rewrite.call(state, c)) out.push(p.toString('latin1'));
  return { pieces: out, lastByte: state.lastByte };
}

test('the bare-LF rewrite yields the original pieces and state for random bytes cut anywhere', () => {
  assert.notEqual(originalRewrite, crlfPieces, 'the original must be mailauth\'s own method');
  const next = random(17);
  for (let n = 0; n < 3000; n++) {
    const chunks = randomChunks(next, [0x61, 0x20, 0x09, 0x0d, 0x0a, 0x0a, 0x0d, 0x2e], 40);
    assert.deepEqual(pieces(crlfPieces, chunks), pieces(originalRewrite, chunks), `case ${n}: ${JSON.stringify(chunks.map((c) => c.toString('latin1')))}`);
  }
});

test('a message with only CRLF line ends comes through the rewrite as the one piece it was', () => {
  const body = Buffer.from('Subject: a\r\n\r\n' + 'line of text\r\n'.repeat(4000));
  const out = pieces(crlfPieces, [body]);
  assert.equal(out.pieces.length, 1);
  assert.equal(out.pieces[0], body.toString('latin1'));
});

test('the header scan hands on the original header section, body chunks and state for random bytes cut anywhere', async () => {
  assert.notEqual(originalChunk, processChunkScanned, 'the original must be mailauth\'s own method');
  const next = random(29);
  for (let n = 0; n < 3000; n++) {
    const chunks = randomChunks(next, [0x41, 0x3a, 0x20, 0x0d, 0x0a, 0x0a, 0x0d], 30).map((c) => c.toString('latin1'));
    assert.equal(await headerScanTrace(Parser, processChunkScanned, chunks), await headerScanTrace(Parser, originalChunk, chunks), `case ${n}: ${JSON.stringify(chunks)}`);
  }
});

test('the probes tell replacements that differ from the originals, and install uses only agreeing ones', async () => {
  const unchanged: Rewriter = function* (input) { yield input; };
  assert.equal(agreeOnProbes(originalRewrite, unchanged), false);
  assert.equal(agreeOnProbes(originalRewrite, crlfPieces), true);
  const allBody = async function (this: { nextChunk(c: Buffer): Promise<void> }, chunk: Buffer) { await this.nextChunk(chunk); };
  assert.equal(await headerScansAgree(Parser, originalChunk, allBody), false);
  assert.equal(await headerScansAgree(Parser, originalChunk, processChunkScanned), true);
  await installParserScans();
  assert.equal(Parser.prototype.ensureLinebreaks, crlfPieces);
  assert.equal(Parser.prototype.processChunk, processChunkScanned);
});
