// DKIM (and ARC) public keys parsed once per DNS answer, not once per message (issue 17).
//
// mailauth keeps a key cache per message only: every message signed by the same selector has
// its TXT record parsed, the key decoded (createPublicKey), exported to PEM, and that PEM decoded
// again by crypto.verify. The shared cache here is keyed by the record text the message's own
// lookup returned, so it never outlives the DNS answer: the resolver's TTL-bound cache decides
// when a record is asked again, and a changed record is a different key text, parsed afresh.
//
// mailauth has no option for a shared cache, so it is wrapped rather than changed: its
// DkimVerifier assigns `this.keyCache = createKeyCache(resolver)` in its constructor, and an
// accessor installed once on the prototype wraps that per-message cache when the resolver
// carries a SharedKeyCache (attachKeyCache). Any other caller of mailauth is left as it was.
// The hook belongs upstream as an option (e.g. `keyCache` passed through authenticate()).
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What mailauth's getPublicKey() resolves to (the fields its verifiers read). */
interface KeyRecord { publicKey: string | KeyObject; rr?: string; [field: string]: unknown }

interface PerMessageKeyCache {
  resolver: (name: string, type: string) => Promise<unknown>;
  get(type: string, name: string, minBitLength: number | undefined, options?: { strict?: boolean; hashAlgo?: string }): Promise<KeyRecord>;
}

const SHARED = Symbol('mxward shared DKIM key cache');
const DEFAULT_MAX_ENTRIES = 1000;

export class SharedKeyCache {
  readonly #maxEntries: number;
  readonly #parsed = new Map<string, Promise<KeyRecord>>();
  readonly #screened = new Map<string, string | null>();
  /** Keys parsed (cache misses); tests read it to prove the cache works. */
  parsedCount = 0;

  constructor(maxEntries = DEFAULT_MAX_ENTRIES) {
    this.#maxEntries = maxEntries;
  }

  /** The refusal (or null) of a key record text, computed once per distinct text. */
  screen(recordText: string, compute: (text: string) => string | null): string | null {
    if (this.#screened.has(recordText)) return this.#screened.get(recordText)!;
    const why = compute(recordText);
    remember(this.#screened, recordText, why, this.#maxEntries);
    return why;
  }

  /** The parsed key for this record text and these verification options, parsing it at most once. */
  parsed(cacheKey: string, parse: () => Promise<KeyRecord>): Promise<KeyRecord> {
    let entry = this.#parsed.get(cacheKey);
    if (!entry) {
      this.parsedCount += 1;
      entry = parse().then(withKeyObject);
      // A failed parse is not kept: mailauth reports it for this message, the next one tries again.
      entry.catch(() => { if (this.#parsed.get(cacheKey) === entry) this.#parsed.delete(cacheKey); });
      remember(this.#parsed, cacheKey, entry, this.#maxEntries);
    }
    return entry;
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}

/**
 * The PEM string replaced by its decoded KeyObject, so crypto.verify does not decode it again per
 * message; toString() still gives the PEM, which is what mailauth copies into its results.
 */
function withKeyObject(record: KeyRecord): KeyRecord {
  if (typeof record.publicKey !== 'string') return record;
  const pem = record.publicKey;
  const keyObject = createPublicKey(pem);
  Object.defineProperty(keyObject, 'toString', { value: () => pem });
  return { ...record, publicKey: keyObject };
}

/** The resolver handed to mailauth, marked so its verifiers share `cache`. */
export function attachKeyCache<T extends object>(resolver: T, cache: SharedKeyCache): T {
  Object.defineProperty(resolver, SHARED, { value: cache });
  return resolver;
}

function sharedOf(resolver: unknown): SharedKeyCache | undefined {
  return (resolver as { [SHARED]?: SharedKeyCache } | null)?.[SHARED];
}

/** Record text as mailauth's getPublicKey() reads it: the first TXT answer, strings joined, no white space. */
function recordText(answer: unknown): string | null {
  if (!Array.isArray(answer) || answer.length === 0) return null;
  const first: unknown = answer[0];
  const text = Array.isArray(first) ? first.join('') : typeof first === 'string' ? first : null;
  return text === null ? null : text.replace(/\s+/g, '');
}

function wrap(perMessage: PerMessageKeyCache, shared: SharedKeyCache): PerMessageKeyCache {
  const { resolver } = perMessage;
  return {
    resolver,
    async get(type, name, minBitLength, options) {
      // Non-ASCII names are converted by mailauth before lookup; leave those to it.
      if (!/^[\x21-\x7e]+$/.test(name)) return perMessage.get(type, name, minBitLength, options);
      // The message's own lookup (memoised per message, TTL-cached across messages): the same
      // answer getPublicKey() is about to read, so the cache key is exactly what it would parse.
      const text = recordText(await resolver(name, 'TXT').catch(() => null));
      if (text === null) return perMessage.get(type, name, minBitLength, options);
      const key = [type, options?.strict ? 'strict' : '', minBitLength ?? '', options?.hashAlgo ?? '', text].join('\u0000');
      return shared.parsed(key, () => perMessage.get(type, name, minBitLength, options));
    },
  };
}

let installed = false;

/** Installs the wrapping accessor on mailauth's DkimVerifier (once per process). */
export function installKeyCacheHook(): void {
  if (installed) return;
  const { DkimVerifier } = require('mailauth/lib/dkim/dkim-verifier.js') as { DkimVerifier: { prototype: object } };
  if (Object.getOwnPropertyDescriptor(DkimVerifier.prototype, 'keyCache')) throw new Error('mailauth DkimVerifier already defines keyCache: the shared key cache hook needs review');
  Object.defineProperty(DkimVerifier.prototype, 'keyCache', {
    configurable: true,
    get() { return undefined; },
    set(this: object, value: PerMessageKeyCache) {
      const shared = value && sharedOf(value.resolver);
      Object.defineProperty(this, 'keyCache', { value: shared ? wrap(value, shared) : value, writable: true, configurable: true, enumerable: true });
    },
  });
  installed = true;
}
