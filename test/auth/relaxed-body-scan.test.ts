// Issue 17: the relaxed body hash with mxward's fast way for chunks that need no rewriting
// (auth/relaxed-body-scan.ts) must give mailauth's own digest and counts for any body cut into
// chunks anywhere, with and without an l= limit, and must send every chunk with something to
// rewrite to mailauth's own loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installRelaxedBodyScan, mailauthRelaxedHash, nothingToRewrite, relaxedRun, scannedUpdate } from '../../src/auth/relaxed-body-scan.ts';

const Hash = mailauthRelaxedHash();
const original = Hash.prototype.update; // taken before anything installs the replacement
const scanned = scannedUpdate(original);

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

test('digest and counts agree with mailauth for random bodies cut anywhere, with and without l=', () => {
  const next = random(41);
  // Mostly ordinary text, so that many chunks take the fast way; sometimes tabs, runs of spaces, bare LFs.
  const pick = (): string => {
    const r = next();
    if (r < 0.6) return 'abc de'.slice(0, 1 + Math.floor(next() * 6));
    if (r < 0.85) return '\r\n';
    return [' ', '\t', '\n', '\r', '  '][Math.floor(next() * 5)]!;
  };
  let fast = 0;
  for (let n = 0; n < 3000; n++) {
    const body = Array.from({ length: Math.floor(next() * 30) }, pick).join('');
    const chunks: string[] = [];
    for (let at = 0; at < body.length;) {
      const len = 1 + Math.floor(next() * 12);
      chunks.push(body.slice(at, at + len));
      at += len;
    }
    if (chunks.some((c) => nothingToRewrite(Buffer.from(c, 'latin1')))) fast++;
    const limit = next() < 0.3 ? Math.floor(next() * body.length) : undefined;
    assert.equal(relaxedRun(Hash, scanned, chunks, limit), relaxedRun(Hash, original, chunks, limit), `case ${n}: ${JSON.stringify(chunks)} l=${limit}`);
  }
  assert.ok(fast > 500, `only ${fast} cases had a chunk for the fast way`);
});

test('what the scan sends to mailauth\'s loop: tabs, runs of spaces, space before the line end, bare LF', () => {
  for (const text of ['a\tb\r\n', 'a  b\r\n', 'a \r\n', 'a\nb', '\nb', 'x\r\n\n']) assert.equal(nothingToRewrite(Buffer.from(text)), false, JSON.stringify(text));
  for (const text of ['a b\r\nc d\r\n', 'partial line', 'a\r\n\r\n', 'a b\r']) assert.equal(nothingToRewrite(Buffer.from(text)), true, JSON.stringify(text));
});

test('install replaces mailauth\'s update once it agrees on the probes', () => {
  assert.equal(installRelaxedBodyScan(), true);
  assert.notEqual(Hash.prototype.update, original);
  // Through the installed method, a big clean body gives mailauth's digest.
  const chunks = Array.from({ length: 50 }, (_, i) => `line ${i} of an ordinary body\r\n`.repeat(30));
  assert.equal(relaxedRun(Hash, Hash.prototype.update, chunks), relaxedRun(Hash, original, chunks));
});
