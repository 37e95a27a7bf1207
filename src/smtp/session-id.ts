// Session ids in smtp-server's own format (80 random bits as 16 base32 characters, 0-9a-v), drawn
// from a pool of random bytes. smtp-server asks the CSPRNG for 10 bytes on every connection and
// converts them through a hex string and a BigInt: about 1.5 % of a refused session's CPU, for an
// id that only has to be unique and unguessable. The pool is refilled from the same CSPRNG.
import { takeRandomBytes } from '../spool/random-bytes.ts';

const ID_BYTES = 10;
const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

export function newSessionId(): string {
  return sessionIdOf(takeRandomBytes(ID_BYTES));
}

/** The id of the 10 bytes at `at`, as smtp-server writes it (big-endian base32, zero-padded). */
export function sessionIdOf(bytes: Buffer, at = 0): string {
  // Four 20-bit groups (2.5 bytes each), four characters of 5 bits from each.
  const b = bytes;
  return chars20((b[at] << 12) | (b[at + 1] << 4) | (b[at + 2] >> 4))
    + chars20(((b[at + 2] & 15) << 16) | (b[at + 3] << 8) | b[at + 4])
    + chars20((b[at + 5] << 12) | (b[at + 6] << 4) | (b[at + 7] >> 4))
    + chars20(((b[at + 7] & 15) << 16) | (b[at + 8] << 8) | b[at + 9]);
}

function chars20(v: number): string {
  return ALPHABET[v >> 15] + ALPHABET[(v >> 10) & 31] + ALPHABET[(v >> 5) & 31] + ALPHABET[v & 31];
}
