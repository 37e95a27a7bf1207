// Prometheus metrics of one gateway process (prom-client, its own registry so several gateways
// in one test process do not share counters). Names follow the Prometheus conventions: the
// mxward_ prefix, _total on counters, the unit in the name (seconds). Labels have bounded values:
// verdicts, reply codes, connector names an administrator created, never addresses.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TraceRecord } from '../domain/types.ts';
import type { DeliveryUpdate } from '../store/ports.ts';

export interface MetricsSources {
  /** The policy version this node runs. */
  policyVersion: () => number;
  /** The spool's queue directory: depth and the age of the oldest message are read at scrape. */
  queueDir: string;
  /** Resolves when the store answers; probed at scrape for mxward_store_up. */
  probeStore?: () => Promise<unknown>;
}

/** A store that does not answer within this time counts as down. */
const STORE_PROBE_TIMEOUT_MS = 2000;

/** Beyond this many queued messages the oldest age is taken from the first ones listed. */
const MAX_STATS_PER_SCRAPE = 10_000;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #transactions: Counter<'verdict' | 'direct_send' | 'connector'>;
  readonly #replies: Counter<'code'>;
  readonly #deliveries: Counter<'outcome'>;
  readonly #auth: Counter<'method' | 'result'>;
  readonly dnsLookupSeconds: Histogram<'type'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#transactions = new Counter({
      name: 'mxward_transactions_total', help: 'SMTP transactions by verdict, Direct Send kind (p1, header-from, none) and connector (none = no connector)',
      labelNames: ['verdict', 'direct_send', 'connector'], registers,
    });
    this.#replies = new Counter({ name: 'mxward_smtp_replies_total', help: 'Final replies of SMTP transactions by reply code', labelNames: ['code'], registers });
    this.#deliveries = new Counter({ name: 'mxward_delivery_attempts_total', help: 'Finished delivery attempts by outcome (delivered, deferred, failed)', labelNames: ['outcome'], registers });
    this.#auth = new Counter({ name: 'mxward_auth_results_total', help: 'Email authentication results by method (spf, dkim, dmarc, arc, compauth) and result', labelNames: ['method', 'result'], registers });
    this.dnsLookupSeconds = new Histogram({
      name: 'mxward_dns_lookup_duration_seconds', help: 'DNS lookups of the authentication checks (cache hits included) by record type',
      labelNames: ['type'], buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    new Gauge({ name: 'mxward_policy_version', help: 'Version of the organization policy this node runs', registers, collect() { this.set(sources.policyVersion()); } });
    const probeStore = sources.probeStore;
    if (probeStore) {
      new Gauge({
        name: 'mxward_store_up', help: '1 when the store (SQLite or PostgreSQL) answered at this scrape, else 0', registers,
        async collect() { this.set(await answersInTime(probeStore) ? 1 : 0); },
      });
    }
    const queueAge = new Gauge({ name: 'mxward_queue_oldest_message_age_seconds', help: 'Age of the oldest message in the delivery queue (0 when empty)', registers });
    new Gauge({
      name: 'mxward_queue_messages', help: 'Messages in the delivery queue (all workers\' shares)', registers,
      async collect() {
        const { count, oldestMs } = await readQueue(sources.queueDir);
        this.set(count);
        queueAge.set(oldestMs === null ? 0 : Math.max(0, (Date.now() - oldestMs) / 1000));
      },
    });
  }

  recordTransaction(record: TraceRecord): void {
    this.#transactions.inc({ verdict: record.verdict, direct_send: record.directSend ?? 'none', connector: record.connector ?? 'none' });
    const code = replyCode(record.reply);
    if (code) this.#replies.inc({ code });
    const auth = record.auth;
    if (!auth) return;
    this.#auth.inc({ method: 'spf', result: auth.spf.result });
    for (const signature of auth.dkim) this.#auth.inc({ method: 'dkim', result: signature.result });
    if (auth.dkim.length === 0) this.#auth.inc({ method: 'dkim', result: 'none' });
    this.#auth.inc({ method: 'dmarc', result: auth.dmarc.result });
    this.#auth.inc({ method: 'arc', result: auth.arc.result });
    this.#auth.inc({ method: 'compauth', result: auth.compauth.result });
  }

  recordDelivery(update: DeliveryUpdate): void {
    if (update.status === 'delivered' || update.status === 'deferred' || update.status === 'failed') this.#deliveries.inc({ outcome: update.status });
  }
}

/** The three-digit code a rendered reply starts with (`550 5.7.68 …`), or null. */
function replyCode(reply: string): string | null {
  if (reply.length < 3) return null;
  for (let i = 0; i < 3; i++) {
    const c = reply.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  return reply.slice(0, 3);
}

async function readQueue(queueDir: string): Promise<{ count: number; oldestMs: number | null }> {
  let names: string[];
  try {
    names = (await readdir(queueDir)).filter((n) => n.endsWith('.json'));
  } catch {
    return { count: 0, oldestMs: null };
  }
  let oldestMs: number | null = null;
  for (const name of names.slice(0, MAX_STATS_PER_SCRAPE)) {
    const info = await stat(join(queueDir, name)).catch(() => null);
    if (info && (oldestMs === null || info.mtimeMs < oldestMs)) oldestMs = info.mtimeMs;
  }
  return { count: names.length, oldestMs };
}

async function answersInTime(probe: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => { timer = setTimeout(() => r(false), STORE_PROBE_TIMEOUT_MS); });
  try {
    return await Promise.race([probe().then(() => true, () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
