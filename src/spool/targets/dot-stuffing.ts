// Dot-stuffing for the relay (RFC 5321 §4.5.2), fast enough for large messages, and a message
// sent to the socket in one write.
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
//
// DataStream also pushed every chunk as it came (the added header fields, the message) and the
// end-of-data marker on its own: each push is one write() to the socket, and on loopback each
// write also runs the receiver's TCP path. The installed stream holds its output (up to
// HOLD_BYTES) and pushes it with the marker at the end, so a message held in memory goes out in
// one write; a larger one goes out in pieces of about HOLD_BYTES as before.
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
  /** Output not pushed yet, and its length (set by the installed methods). */
  heldOutput?: Buffer[];
  heldOutputBytes?: number;
}

/** Output a DataStream holds before it pushes; one push is one write() to the socket. */
const HOLD_BYTES = 64 * 1024;

/** What DataStream's _flush() sends after the message: CRLF (unless it ended with one) `.` CRLF. */
export function endOfData(lastByte: number | false): Buffer {
  if (lastByte === LF) return Buffer.from('.\r\n');
  if (lastByte === CR) return Buffer.from('\n.\r\n');
  return Buffer.from('\r\n.\r\n');
}

function pushHeld(stream: DataStreamState, tail?: Buffer): void {
  const held = stream.heldOutput ?? [];
  let bytes = stream.heldOutputBytes ?? 0;
  if (tail) { held.push(tail); bytes += tail.length; }
  stream.heldOutput = [];
  stream.heldOutputBytes = 0;
  if (held.length > 0) stream.push(held.length === 1 ? held[0] : Buffer.concat(held, bytes));
}

let installed = false;

/** Replaces DataStream's per-byte loop with stuffChunk and holds its output (once per process). */
export function installFastDotStuffing(): void {
  if (installed) return;
  installed = true;
  type Proto = {
    _transform(this: DataStreamState, chunk: Buffer | string, encoding: BufferEncoding, done: TransformCallback): void;
    _flush(this: DataStreamState, done: TransformCallback): void;
  };
  const proto = DataStream.prototype as unknown as Proto;
  proto._transform = function fastTransform(this: DataStreamState, chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!chunk || chunk.length === 0) { done(); return; }
    const input = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.inByteCount += input.length;
    const output = stuffChunk(input, this.lastByte);
    this.outByteCount += output.length;
    this.lastByte = input[input.length - 1];
    if ((this.heldOutputBytes ?? 0) + output.length > HOLD_BYTES) pushHeld(this);
    (this.heldOutput ??= []).push(output);
    this.heldOutputBytes = (this.heldOutputBytes ?? 0) + output.length;
    done();
  };
  proto._flush = function heldFlush(this: DataStreamState, done: TransformCallback): void {
    const marker = endOfData(this.lastByte);
    this.outByteCount += marker.length;
    pushHeld(this, marker);
    done();
  };
}
