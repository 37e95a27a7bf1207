// Dot-stuffing for the relay (RFC 5321 §4.5.2), fast enough for large messages.
//
// nodemailer's SMTP client sends every message through its DataStream, which looks at each byte
// in a JavaScript loop to stuff leading dots and turn bare CR and bare LF into CRLF. For a 50 KB
// message that loop was the largest single item of the relay (13 % of the gateway's time in
// `bench/profile.ts accept --size 51200`). stuffChunk() gives the same output but lets
// Buffer.indexOf (memchr) find the only places where anything can change: after a CR, at an LF,
// and after an LF. installFastDotStuffing() puts it into DataStream in place of the loop; the
// stream's own bookkeeping (byte counts, the last byte its end-of-data marker depends on) is
// kept as DataStream keeps it. test/spool/dot-stuffing.test.ts checks the output against
// nodemailer's own implementation on random input cut into random chunks, so an upgrade that
// changes the behaviour fails there rather than on the wire.
import type { TransformCallback } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const INSERT_LF = Buffer.from('\n');
const INSERT_LF_DOT = Buffer.from('\n.');
const INSERT_CR = Buffer.from('\r');
const INSERT_DOT = Buffer.from('.');

/**
 * The bytes to send for `chunk`, given the byte before it (`false` at the start of the message).
 * Returns `chunk` itself when nothing needs to change.
 */
export function stuffChunk(chunk: Buffer, lastByte: number | false): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  let copied = 0;
  const insertAt = (i: number, insert: Buffer) => {
    if (i > copied) { parts.push(chunk.subarray(copied, i)); length += i - copied; }
    parts.push(insert);
    length += insert.length;
    copied = i;
  };
  // The rule for position i depends on chunk[i] and the byte before it.
  const check = (i: number) => {
    const byte = chunk[i];
    const prev = i > 0 ? chunk[i - 1] : lastByte;
    if (prev === CR && byte !== LF) insertAt(i, byte === DOT ? INSERT_LF_DOT : INSERT_LF);
    else if (byte === LF && prev !== CR) insertAt(i, INSERT_CR);
    else if (byte === DOT && (prev === LF || prev === false)) insertAt(i, INSERT_DOT);
  };
  // Candidate positions in increasing order: 0, and around every CR and LF.
  let lastChecked = -1;
  const visit = (i: number) => {
    if (i > lastChecked && i < chunk.length) { check(i); lastChecked = i; }
  };
  visit(0);
  let nextCr = chunk.indexOf(CR);
  let nextLf = chunk.indexOf(LF);
  while (nextCr !== -1 || nextLf !== -1) {
    if (nextLf === -1 || (nextCr !== -1 && nextCr < nextLf)) {
      visit(nextCr + 1);
      nextCr = chunk.indexOf(CR, nextCr + 1);
    } else {
      visit(nextLf);
      visit(nextLf + 1);
      nextLf = chunk.indexOf(LF, nextLf + 1);
    }
  }
  if (parts.length === 0) return chunk;
  if (copied < chunk.length) { parts.push(chunk.subarray(copied)); length += chunk.length - copied; }
  return Buffer.concat(parts, length);
}

interface DataStreamState {
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
  push(chunk: Buffer): boolean;
}

let installed = false;

/** Replaces DataStream's per-byte loop with stuffChunk (once per process). */
export function installFastDotStuffing(): void {
  if (installed) return;
  installed = true;
  const proto = DataStream.prototype as unknown as { _transform(this: DataStreamState, chunk: Buffer | string, encoding: BufferEncoding, done: TransformCallback): void };
  proto._transform = function fastTransform(this: DataStreamState, chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!chunk || chunk.length === 0) { done(); return; }
    const input = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.inByteCount += input.length;
    const output = stuffChunk(input, this.lastByte);
    this.outByteCount += output.length;
    this.push(output);
    this.lastByte = input[input.length - 1];
    done();
  };
}
