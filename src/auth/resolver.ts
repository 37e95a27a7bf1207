// The one DNS module every authentication check goes through (issue 3): the system's name
// servers by default (as /etc/resolv.conf lists them), or configured ones; a cache that keeps
// each answer only as long as its TTL says; a timeout per query and a time budget per message.
// Answers come back in the shapes node:dns.promises.resolve() uses, because mailauth expects them.
import { getServers } from 'node:dns';
import type { Answer, RecordType } from 'dns-packet';
import { askServer, interpret } from './dns-client.ts';
import type { DnsOutcome, DnsServer } from './dns-client.ts';

/** What mailauth calls: `resolver(name, 'TXT')` and friends. */
export type DnsLookup = (name: string, rrtype: string) => Promise<unknown>;

export interface ResolverOptions {
  /** Empty: the system resolver's servers. */
  servers: DnsServer[];
  timeoutMs: number;
  /** Attempts per server before the next one is asked. */
  tries: number;
  maxCacheEntries: number;
  /** Upper bound on any TTL, so a hostile record cannot pin a cache entry for days. */
  maxTtlSeconds: number;
  now?: () => number;
}

const SUPPORTED = new Set<RecordType>(['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'NS']);

/** `127.0.0.1`, `127.0.0.1:5353`, `[::1]:53`, `::1`. */
export function parseServer(text: string): DnsServer {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : 53 };
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  if (hostPort) return { host: hostPort[1], port: Number(hostPort[2]) };
  return { host: text, port: 53 };
}

export function systemServers(): DnsServer[] {
  return getServers().map(parseServer);
}

export class DnsError extends Error {
  readonly code: string;
  readonly hostname: string;
  constructor(code: string, hostname: string, rrtype: string) {
    super(`query${rrtype} ${code} ${hostname}`);
    this.code = code;
    this.hostname = hostname;
  }
}

/**
 * A DnsError without a stack trace: NXDOMAIN and NODATA are everyday answers (SPF void lookups,
 * the DMARC Tree Walk, HELO names), and capturing a stack for each costs more than the lookup.
 */
function dnsError(code: string, hostname: string, rrtype: string): DnsError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new DnsError(code, hostname, rrtype);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Converts dns-packet records to the node:dns.resolve() result shape for that type. */
function toNodeShape(type: RecordType, records: Answer[]): unknown {
  if (type === 'TXT') {
    return records.map((r) => ((r as { data: Buffer[] | Buffer | string }).data instanceof Array
      ? ((r as { data: Buffer[] }).data).map((b) => Buffer.isBuffer(b) ? b.toString('utf8') : String(b))
      : [String((r as { data: unknown }).data)]));
  }
  if (type === 'MX') return records.map((r) => { const d = (r as { data: { preference: number; exchange: string } }).data; return { priority: d.preference, exchange: d.exchange }; });
  return records.map((r) => String((r as { data: unknown }).data));
}

interface CacheEntry {
  expiresMs: number;
  outcome: DnsOutcome;
  /** The answer in node:dns shape, built once; its rows are frozen and each caller gets its own list. */
  shaped?: unknown[];
}

/** Freezes each row (a TXT row's strings, an MX object) so that one caller cannot change what the next one reads. */
function frozenRows(rows: unknown[]): unknown[] {
  for (const row of rows) if (row && typeof row === 'object') Object.freeze(row);
  return rows;
}

export class DnsResolver {
  readonly #options: ResolverOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<DnsOutcome>>();
  readonly #now: () => number;
  /** Exchanges sent to a server (cache misses); tests use it to prove the cache works. */
  queriesSent = 0;

  constructor(options: ResolverOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get servers(): DnsServer[] {
    return this.#options.servers.length > 0 ? this.#options.servers : systemServers();
  }

  /** Resolves like dns.promises.resolve(name, type): records, or a DnsError with a node:dns code. */
  async resolve(name: string, rrtype: string): Promise<unknown> {
    const type = rrtype.toUpperCase() as RecordType;
    if (!SUPPORTED.has(type)) throw dnsError('ENOTIMP', name, rrtype);
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    const hit = this.#fresh(key);
    if (hit) return this.#answer(hit, name, type);
    const outcome = await this.#lookup(key, name, type);
    if (outcome.kind === 'error') throw dnsError(outcome.code, name, type);
    return toNodeShape(type, outcome.records);
  }

  /** A cached, unexpired answer, or null: what a per-message lookup may return without a timer. */
  peek(name: string, rrtype: string): { entry: CacheEntry; type: RecordType } | null {
    const type = rrtype.toUpperCase() as RecordType;
    if (!SUPPORTED.has(type)) return null;
    const entry = this.#fresh(`${type} ${name.toLowerCase().replace(/\.$/, '')}`);
    return entry ? { entry, type } : null;
  }

  #answer(entry: CacheEntry, name: string, type: RecordType): unknown {
    if (entry.outcome.kind === 'error') throw dnsError(entry.outcome.code, name, type);
    entry.shaped ??= frozenRows(toNodeShape(type, entry.outcome.records) as unknown[]);
    // A fresh outer list: mailauth sorts MX answers in place.
    return entry.shaped.slice();
  }

  #fresh(key: string): CacheEntry | null {
    const cached = this.#cache.get(key);
    if (!cached) return null;
    if (cached.expiresMs > this.#now()) return cached;
    this.#cache.delete(key);
    return null;
  }

  async #lookup(key: string, name: string, type: RecordType): Promise<DnsOutcome> {
    // Concurrent identical questions share one exchange.
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#ask(name, type).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const outcome = await pending;
    this.#remember(key, outcome);
    return outcome;
  }

  async #ask(name: string, type: RecordType): Promise<DnsOutcome> {
    let last: DnsOutcome = { kind: 'error', code: 'ETIMEOUT', ttlSeconds: 0 };
    for (const server of this.servers) {
      for (let attempt = 0; attempt < this.#options.tries; attempt += 1) {
        this.queriesSent += 1;
        const response = await askServer(server, name, type, this.#options.timeoutMs);
        if (!response) { last = { kind: 'error', code: 'ETIMEOUT', ttlSeconds: 0 }; continue; }
        const outcome = interpret(response, type);
        // SERVFAIL and REFUSED are one server's trouble: another server may answer.
        if (outcome.kind === 'error' && (outcome.code === 'ESERVFAIL' || outcome.code === 'EREFUSED')) { last = outcome; break; }
        return outcome;
      }
    }
    return last;
  }

  #remember(key: string, outcome: DnsOutcome): void {
    const ttl = Math.min(outcome.ttlSeconds, this.#options.maxTtlSeconds);
    // Failures to get an answer are never cached: the next message asks again (RFC 2308 §7.1
    // allows a short cache of SERVFAIL, mxward chooses none so a fixed zone is seen at once).
    if (ttl <= 0 || (outcome.kind === 'error' && !['ENOTFOUND', 'ENODATA'].includes(outcome.code))) return;
    if (this.#cache.size >= this.#options.maxCacheEntries) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, { expiresMs: this.#now() + ttl * 1000, outcome });
  }

  /**
   * A lookup function for one message: after budgetMs every further query fails with ETIMEOUT,
   * which the checks report as temperror, so one message cannot hold a connection for minutes.
   */
  forMessage(budgetMs: number, maxQueries: number): DnsLookup & { queries(): number } {
    const deadline = this.#now() + budgetMs;
    let count = 0;
    const lookup = async (name: string, rrtype: string) => {
      count += 1;
      if (this.#now() >= deadline || count > maxQueries) throw dnsError('ETIMEOUT', name, rrtype);
      // A cached answer needs no timer and no race (most questions, once a sender is known).
      const hit = this.peek(name, rrtype);
      if (hit) return this.#answer(hit.entry, name, hit.type);
      const remaining = deadline - this.#now();
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          this.resolve(name, rrtype),
          new Promise((_, reject) => { timer = setTimeout(() => reject(dnsError('ETIMEOUT', name, rrtype)), remaining); }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    };
    return Object.assign(lookup, { queries: () => count });
  }
}
