// Transaction ids: time-ordered UUIDs (version 7, RFC 9562). Unique and opaque like version 4, but
// a new id sorts after older ones, so the store's index on it grows at its right edge like the
// time indexes instead of dirtying (and, once the index outgrows the cache, first reading) a
// random page for every trace row.
//
// Node has crypto.randomUUIDv7 only from 24.16; the package supports Node 22.19 and later, so
// older runtimes get the same layout built here from pooled CSPRNG bytes (spool/random-bytes.ts).
import * as crypto from 'node:crypto';
import { takeRandomBytes } from '../spool/random-bytes.ts';

/** A version 7 UUID: 48 bits of Unix milliseconds, the version, then 74 random bits. */
export function uuidV7(nowMs = Date.now()): string {
  const b = takeRandomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const native = (crypto as { randomUUIDv7?: () => string }).randomUUIDv7;

export const newTransactionId: () => string = native ? () => native() : () => uuidV7();
