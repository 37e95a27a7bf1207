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
    if (!SUPPORTED.has(type)) throw new DnsError('ENOTIMP', name, rrtype);
    const key = `${type} ${name.toLowerCase().replace(/\.$/, '')}`;
    const outcome = await this.#lookup(key, name, type);
    if (outcome.kind === 'error') throw new DnsError(outcome.code, name, type);
    return toNodeShape(type, outcome.records);
  }

  async #lookup(key: string, name: string, type: RecordType): Promise<DnsOutcome> {
    const cached = this.#cache.get(key);
    if (cached && cached.expiresMs > this.#now()) return cached.outcome;
    if (cached) this.#cache.delete(key);
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
      if (this.#now() >= deadline || count > maxQueries) throw new DnsError('ETIMEOUT', name, rrtype);
      const remaining = deadline - this.#now();
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          this.resolve(name, rrtype),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new DnsError('ETIMEOUT', name, rrtype)), remaining); }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    };
    return Object.assign(lookup, { queries: () => count });
  }
}
