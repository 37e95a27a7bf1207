// Distinct counts per source in bounded memory (issue 17). A source's recipients are counted
// exactly while there are few (their 53-bit hashes in a small array: no strings kept, so nothing
// pins an input chunk), and past EXACT_LIMIT by a HyperLogLog sketch of 2^10 one-byte registers
// (1 KiB, standard error 1.04/√1024 ≈ 3.3%), written here rather than taken from a package: it is
// forty lines, and it must survive a structured clone between worker threads as plain data.
// Both halves depend only on the set of values, never on their order, so counts of parts of a
// file merge into exactly the count of the whole (merge-aggregate.ts).

/** Values counted exactly; one more turns the counter into a sketch. */
export const EXACT_LIMIT = 100;
const P = 10;
const M = 1 << P;
/** HLL bias correction for M registers (Flajolet et al. 2007). */
const ALPHA = 0.7213 / (1 + 1.079 / M);
const TWO_21 = 2 ** 21;
/** 2^-rank for every rank a register can hold (at most 32 - P + 1). */
const INVERSE_POWERS = Array.from({ length: 34 }, (_, k) => 2 ** -k);

/**
 * Two 32-bit FNV-1a variants of a string in one pass, ASCII letters folded to lower case (e-mail
 * addresses compare case-insensitively), mixed with murmur3's finaliser and combined into one
 * 53-bit number: collisions among a hundred values are about one in 10^11.
 */
export function hashFolded(text: string): number {
  return hashOf(text, true);
}

/** `fold`: ASCII letters to lower case, and any other text through toLowerCase() first. */
function hashOf(text: string, fold: boolean): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (fold) {
      if (c >= 65 && c <= 90) c += 32;
      else if (c > 127) return hashOf(text.toLowerCase(), false);
    }
    a = Math.imul(a ^ c, 16777619);
    b = Math.imul(b ^ c, 2246822519);
  }
  return fmix(a) * TWO_21 + (fmix(b) >>> 11);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Plain data (structured-clone safe): exact hashes until EXACT_LIMIT, then a sketch. `hashes` is
 * never written in place: each new value makes an array of exactly the new size (an array grown
 * by push reserves room for 16 more doubles, 128 bytes per source of tens of thousands), and an
 * empty counter shares NO_HASHES.
 */
export interface DistinctCounter { hashes: readonly number[]; sketch: Uint8Array | null }

/** The hashes of every counter with none (frozen: a write would count for all of them). */
export const NO_HASHES: readonly number[] = Object.freeze([]);

export function newDistinct(): DistinctCounter {
  return { hashes: NO_HASHES, sketch: null };
}

function toSketch(hashes: readonly number[]): Uint8Array {
  const sketch = new Uint8Array(M);
  for (const h of hashes) addToSketch(sketch, h);
  return sketch;
}

function addToSketch(sketch: Uint8Array, h53: number): void {
  const high = Math.floor(h53 / TWO_21);
  const index = high >>> (32 - P);
  const rest = (high << P) | (1 << (P - 1));
  const rank = Math.clz32(rest) + 1;
  if (rank > sketch[index]) sketch[index] = rank;
}

export function addHash(d: DistinctCounter, h53: number): void {
  if (d.sketch) { addToSketch(d.sketch, h53); return; }
  const hashes = d.hashes;
  for (let i = 0; i < hashes.length; i++) if (hashes[i] === h53) return;
  if (hashes.length < EXACT_LIMIT) { d.hashes = hashes.concat(h53); return; }
  d.sketch = toSketch(hashes);
  addToSketch(d.sketch, h53);
  d.hashes = NO_HASHES;
}

/** Adds `b` into `a` (either may be a structured clone). */
export function mergeDistinct(a: DistinctCounter, b: DistinctCounter): void {
  if (b.sketch) {
    if (!a.sketch) { a.sketch = toSketch(a.hashes); a.hashes = NO_HASHES; }
    const s = a.sketch;
    for (let i = 0; i < M; i++) if (b.sketch[i] > s[i]) s[i] = b.sketch[i];
    return;
  }
  // The new hashes in one copy (merging a partial's thousands of sources, one per hash would be
  // garbage); past EXACT_LIMIT, as addHash() would, all of them into a sketch.
  if (a.sketch) { for (const h of b.hashes) addToSketch(a.sketch, h); return; }
  const fresh = b.hashes.filter((h) => !a.hashes.includes(h));
  if (fresh.length === 0) return;
  if (a.hashes.length + fresh.length <= EXACT_LIMIT) { a.hashes = a.hashes.concat(fresh); return; }
  const sketch = toSketch(a.hashes);
  for (const h of fresh) addToSketch(sketch, h);
  a.sketch = sketch;
  a.hashes = NO_HASHES;
}

/** Whether distinctCount() is an estimate (more than EXACT_LIMIT values seen). */
export function isEstimate(d: DistinctCounter): boolean {
  return d.sketch !== null;
}

/** The exact count, or HyperLogLog's estimate (linear counting while registers are empty). */
export function distinctCount(d: DistinctCounter): number {
  const s = d.sketch;
  if (!s) return d.hashes.length;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < M; i++) {
    sum += INVERSE_POWERS[s[i]];
    if (s[i] === 0) zeros++;
  }
  const raw = (ALPHA * M * M) / sum;
  const estimate = raw <= 2.5 * M && zeros > 0 ? M * Math.log(M / zeros) : raw;
  // The exact phase saw more than EXACT_LIMIT distinct values: an estimate below is noise.
  return Math.max(EXACT_LIMIT + 1, Math.round(estimate));
}
