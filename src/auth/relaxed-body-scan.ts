// mailauth's relaxed body canonicalization (DKIM c=.../relaxed, RFC 6376 §3.4.4) looks at every
// byte of the body in a JavaScript switch to find the lines it must rewrite: a tab, a run of
// spaces, a space before the line end, a bare <LF>. Most lines need nothing, and a chunk in which
// none does is hashed as it came (up to its last line end). On a 50 KB message the byte loop was
// about 5 % of mxward's CPU with authentication on (issue 17).
//
// Wrapped rather than changed (see parser-scans.ts): before the loop, three scans (tab, a space
// before a space or <CR>, an <LF> without its <CR>) prove that no line of the chunk needs
// rewriting; then the chunk is hashed exactly as the loop would hash it. Any doubt,
// the last chunk, and an empty one go to mailauth's own method. Installed only after it gave the
// original's digests and counts on a set of probes.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const LF = 0x0a;
const TAB = 0x09;

/** The part of mailauth's RelaxedHash this code reads and writes. */
export interface RelaxedHashState {
  remainder: Buffer | false;
  byteLength: number;
  _pushBodyHash(chunk: Buffer): void;
}

type Update = (this: RelaxedHashState, chunk: Buffer | null, final?: boolean) => void;
interface RelaxedHashClass {
  new (algorithm?: string, maxBodyLength?: number): RelaxedHashState & { digest(encoding: 'hex'): string; canonicalizedLength: number; bodyHashedBytes: number };
  prototype: { update: Update };
}

// A space before a space or a <CR> (a run of spaces, or trailing space; a space before a <CR>
// that is content makes the check say no too, which only costs the slow way), and an <LF> without
// its <CR>. Regular expressions over the bytes as Latin-1 text: V8 runs them as native code, about
// three times faster here than a multi-byte Buffer#indexOf, whose needle starts with a byte as
// common as the space.
const SPACE_TO_FOLD = / [ \r]/;
const BARE_LF = /[^\r]\n/;

/** Whether the relaxed rules leave every line of `chunk` as it is (a partial last line included). */
export function nothingToRewrite(chunk: Buffer): boolean {
  if (chunk.indexOf(TAB) >= 0 || chunk[0] === LF) return false;
  const text = chunk.toString('latin1');
  return !SPACE_TO_FOLD.test(text) && !BARE_LF.test(text);
}

/** mailauth's RelaxedHash.update for `original`, with the fast way for chunks in which no line needs rewriting. */
export function scannedUpdate(original: Update): Update {
  return function update(this: RelaxedHashState, input: Buffer | null, final?: boolean): void {
    if (final || !input || input.length === 0) return original.call(this, input, final);
    const chunk = this.remainder && this.remainder.length ? Buffer.concat([this.remainder, input]) : input;
    if (!nothingToRewrite(chunk)) return original.call(this, input, final);
    // What the loop does when it rewrites nothing: hash up to the last line end, keep the rest.
    this.byteLength += input.length;
    this.remainder = false;
    const end = chunk.lastIndexOf(LF) + 1;
    if (end > 0) this._pushBodyHash(chunk.subarray(0, end));
    if (end < chunk.length) this.remainder = chunk.subarray(end);
  };
}

/** Chunk sequences (then the digest) on which the scanned update must give the original's results. */
const PROBES: readonly (readonly string[])[] = [
  ['line one\r\nline two\r\n'], ['a  b\r\n', 'c\td\r\n'], ['a \r\n', 'b'], ['x\r\n\r\n\r\n'], ['half', ' line\r\nnext', '\r\n'],
  ['\r\n', '\n'], ['a\nb\r\n'], ['end \r', '\n'], ['no line end'], ['a\r\n', ' \r\n', 'b\r\n\r\n'], [''],
];

/** Digest and counts of a RelaxedHash fed `chunks` through `update`. */
export function relaxedRun(Hash: RelaxedHashClass, update: Update, chunks: readonly string[], maxBodyLength?: number): string {
  const h = new Hash('sha256', maxBodyLength);
  for (const c of chunks) update.call(h, Buffer.from(c, 'latin1'));
  const digest = h.digest('hex');
  return JSON.stringify([digest, h.byteLength, h.canonicalizedLength, h.bodyHashedBytes]);
}

/** mailauth's RelaxedHash class. */
export function mailauthRelaxedHash(): RelaxedHashClass {
  return (require('mailauth/lib/dkim/body/relaxed.js') as { RelaxedHash: RelaxedHashClass }).RelaxedHash;
}

/** Whether the scan was installed, once tried: a refusal is remembered too, not probed again per message. */
let installed: boolean | null = null;

/** Installs the scanned update on mailauth's RelaxedHash (tried once per process) if it agrees with the original on the probes. */
export function installRelaxedBodyScan(): boolean {
  installed ??= tryInstall();
  return installed;
}

function tryInstall(): boolean {
  const Hash = mailauthRelaxedHash();
  const original = Hash.prototype.update;
  if (typeof original !== 'function') return false;
  const scanned = scannedUpdate(original);
  if (!PROBES.every((chunks) => relaxedRun(Hash, scanned, chunks) === relaxedRun(Hash, original, chunks))) return false;
  Hash.prototype.update = scanned;
  return true;
}
