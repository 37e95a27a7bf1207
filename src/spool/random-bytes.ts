// Random bytes for ids (queue ids here, session and transaction ids in smtp/), drawn from the
// CSPRNG a block at a time: one call per id cost more than the rest of making the id (and, in
// OpenSSL, a getpid syscall each). A caller uses its bytes at once and keeps nothing, since the
// block is refilled in place.
import { randomFillSync } from 'node:crypto';

const block = Buffer.alloc(4096);
let at = block.length;

export function takeRandomBytes(n: number): Buffer {
  if (n > block.length) throw new RangeError(`at most ${block.length} random bytes at a time`);
  if (at + n > block.length) {
    randomFillSync(block);
    at = 0;
  }
  at += n;
  return block.subarray(at - n, at);
}
