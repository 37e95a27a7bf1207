// The relay's fast dot-stuffing must send exactly what nodemailer's own DataStream sends: compared
// on random messages made of the bytes that matter (CR, LF, dot) cut into random chunks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { endOfData, installFastDotStuffing, stuffChunk } from '../../src/spool/targets/dot-stuffing.ts';

type Transform = (this: unknown, chunk: Buffer, enc: string, done: () => void) => void;
// Taken before installFastDotStuffing() replaces it.
const nodemailerTransform = (DataStream.prototype as unknown as { _transform: Transform })._transform;
const nodemailerFlush = (DataStream.prototype as unknown as { _flush: (this: unknown, done: () => void) => void })._flush;

/** Output of nodemailer's loop for the chunks, as it would push it. */
function reference(chunks: Buffer[]): Buffer {
  const out: Buffer[] = [];
  const self = { inByteCount: 0, outByteCount: 0, lastByte: false as number | false, options: {}, push: (b: Buffer) => out.push(b) };
  for (const c of chunks) nodemailerTransform.call(self, c, 'buffer', () => {});
  return Buffer.concat(out);
}

function ours(chunks: Buffer[]): Buffer {
  let last: number | false = false;
  const out: Buffer[] = [];
  for (const c of chunks) {
    out.push(stuffChunk(c, last));
    last = c[c.length - 1];
  }
  return Buffer.concat(out);
}

/** A small deterministic generator, so a failure can be reproduced from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test('stuffChunk matches nodemailer on random input and random chunking', () => {
  const alphabet = [0x0d, 0x0a, 0x2e, 0x61, 0x2e, 0x0a];
  for (let seed = 1; seed <= 3000; seed++) {
    const rnd = random(seed);
    const bytes = Buffer.from(Array.from({ length: Math.floor(rnd() * 60) + 1 }, () => alphabet[Math.floor(rnd() * alphabet.length)]));
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = Math.max(1, Math.floor(rnd() * 8));
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(ours(chunks), reference(chunks), `seed ${seed}: ${JSON.stringify(bytes.toString('latin1'))}`);
  }
});

test('clean CRLF text without leading dots is passed through as the same buffer', () => {
  const clean = Buffer.from('Subject: x\r\n\r\nline one\r\nline two\r\n');
  assert.equal(stuffChunk(clean, false), clean);
  assert.equal(stuffChunk(Buffer.from('.start\r\n..x\r\n'), false).toString(), '..start\r\n...x\r\n');
});

test('installed into DataStream: a whole stream ends with the terminator and counts its bytes', async () => {
  installFastDotStuffing();
  const stream = new DataStream() as DataStream & { inByteCount: number; outByteCount: number };
  const input = [Buffer.from('Subject: t\r\n\r\n.hidden dot\r'), Buffer.from('\n.\r\nbare\nend')];
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from(input).pipe(stream).on('data', (b: Buffer) => out.push(b)).on('end', resolve).on('error', reject);
  });
  assert.equal(Buffer.concat(out).toString('latin1'), 'Subject: t\r\n\r\n..hidden dot\r\n..\r\nbare\r\nend\r\n.\r\n');
  assert.equal(stream.inByteCount, Buffer.concat(input).length);
  assert.equal(stream.outByteCount, Buffer.concat(out).length);
});

test('the end-of-data marker is the one nodemailer writes after each possible last byte', () => {
  for (const last of [false, 0x0a, 0x0d, 0x2e, 0x61] as const) {
    const out: Buffer[] = [];
    nodemailerFlush.call({ lastByte: last, outByteCount: 0, push: (b: Buffer) => out.push(b) }, () => {});
    assert.deepEqual(endOfData(last), Buffer.concat(out), `last byte ${String(last)}`);
  }
});

/** Pipes `input` through an installed DataStream; returns what it pushed, chunk by chunk. */
async function pushedChunks(input: Buffer[]): Promise<Buffer[]> {
  installFastDotStuffing();
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    Readable.from(input).pipe(new DataStream()).on('data', (b: Buffer) => out.push(b)).on('end', resolve).on('error', reject);
  });
  return out;
}

test('installed: a message held in memory (added fields, then the message) is pushed once, marker included', async () => {
  const fields = Buffer.from('Received: from x\r\n\tby y; Mon, 30 Nov 2026 09:00:00 +0000\r\n');
  const message = Buffer.from(`Subject: s\r\n\r\n${'body line\r\n'.repeat(5000)}.dot\r\n`);
  const out = await pushedChunks([fields, message]);
  assert.equal(out.length, 1);
  assert.equal(out[0].toString('latin1'), `${fields.toString('latin1')}${message.toString('latin1').replace('\r\n.dot', '\r\n..dot')}.\r\n`);
});

test('installed: a large message is pushed in pieces of bounded size, the same bytes as nodemailer in random chunking', async () => {
  const rnd = random(7);
  const alphabet = [0x0d, 0x0a, 0x2e, 0x61, 0x62, 0x63, 0x64, 0x20];
  for (let round = 0; round < 20; round++) {
    const bytes = Buffer.from(Array.from({ length: Math.floor(rnd() * 300_000) + 1 }, () => alphabet[Math.floor(rnd() * alphabet.length)]));
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = Math.max(1, Math.floor(rnd() * 80_000));
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    const out = await pushedChunks(chunks);
    const expected: Buffer[] = [reference(chunks)];
    nodemailerFlush.call({ lastByte: bytes[bytes.length - 1], outByteCount: 0, push: (b: Buffer) => expected.push(b) }, () => {});
    assert.deepEqual(Buffer.concat(out), Buffer.concat(expected), `round ${round}`);
    // Held output is at most 64 KB plus one input chunk (stuffed), and the marker.
    for (const b of out) assert.ok(b.length <= 64 * 1024 + 2 * 80_000 + 5, `a push of ${b.length} bytes`);
    assert.ok(out.length <= Math.ceil(bytes.length * 2 / 1024) + 1);
  }
});
