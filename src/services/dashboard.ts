// The console's dashboard (issue 13): from the live trace of one bounded time window, Direct Send
// that enforcing would refuse over time, verdicts, connectors in use, the quarantine by state, and
// the question report mode exists for: "switching to enforce now would refuse these sources
// (likely attacks vs. senders you may need): add these connectors first". The split reuses the
// report's evidence-based labels (SPEC §11): a source is "may need" only with positive evidence.
// Runs on a worker thread (worker-task.ts) with its own store connections.
import type { PolicyDocument } from '../config/policy-schema.ts';
import type { TraceRecord } from '../domain/types.ts';
import type { SourceReport } from '../report/build-report.ts';
import type { QuarantineRecipientState } from '../store/ports.ts';
import type { PolicyFragment } from './policy-document.ts';
import { runReportOverRecords } from './report-runs.ts';
import { dashboardRecords } from './dashboard-records.ts';
import { storePerUse } from './worker-stores.ts';
import type { StoreAccess } from './worker-stores.ts';
import { runInWorker } from './worker-task.ts';

/** A day of busy traffic fits; beyond it the dashboard says it counted only the newest records. */
export const DASHBOARD_MAX_RECORDS = 50_000;
export const DASHBOARD_MAX_BUCKETS = 500;
const MAX_QUARANTINE_ITEMS = 10_000;
const MAX_LISTED_SOURCES = 50;

export interface DashboardRequest {
  store: { url?: string; dataDir: string };
  policy: PolicyDocument;
  since: string;
  until: string;
  bucketMs: number;
  maxRecords?: number;
}

export interface DashboardSource {
  ip: string | null;
  key: string;
  label: string;
  wouldReject: number;
  reasons: string[];
  senders: string[];
  lastSeen: string | null;
}

export interface Dashboard {
  window: { since: string; until: string; bucketMs: number; records: number; truncated: boolean };
  directSend: Array<{ start: string; wouldReject: number; rejected: number; sources: number }>;
  verdicts: Record<string, number>;
  connectors: Array<{ name: string; transactions: number }>;
  quarantine: { items: number; byState: Record<QuarantineRecipientState, number>; truncated: boolean };
  enforceNow: {
    headline: string;
    likelyAttacks: DashboardSource[];
    mayNeed: DashboardSource[];
    unknown: DashboardSource[];
    connectorsToAdd: Array<{ name: string; senderIPAddresses: string[]; certificateName: string | null; senderDomains: string[]; evidence: string[] }>;
    policyFragment: PolicyFragment;
  };
}

/** Bucket series of Direct Send: would-reject (report mode) and refused (enforce), with distinct sources. */
function directSendSeries(records: TraceRecord[], since: number, until: number, bucketMs: number): Dashboard['directSend'] {
  const count = Math.max(1, Math.ceil((until - since) / bucketMs));
  const buckets = Array.from({ length: count }, (_, i) => ({ start: new Date(since + i * bucketMs).toISOString(), wouldReject: 0, rejected: 0, ips: new Set<string>() }));
  for (const r of records) {
    if (!r.directSend || !r.directSendWouldReject) continue;
    const i = Math.floor((Date.parse(r.time) - since) / bucketMs);
    const b = buckets[i];
    if (!b) continue;
    if (r.verdict === 'reject') b.rejected++; else b.wouldReject++;
    b.ips.add(r.remoteIp);
  }
  return buckets.map(({ ips, ...b }) => ({ ...b, sources: ips.size }));
}

function tally(records: TraceRecord[]): { verdicts: Record<string, number>; connectors: Dashboard['connectors'] } {
  const verdicts: Record<string, number> = {};
  const connectors = new Map<string, number>();
  for (const r of records) {
    verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1;
    if (r.connector) connectors.set(r.connector, (connectors.get(r.connector) ?? 0) + 1);
  }
  return { verdicts, connectors: [...connectors].map(([name, transactions]) => ({ name, transactions })).sort((a, b) => b.transactions - a.transactions || a.name.localeCompare(b.name)) };
}

async function quarantineCounts(store: { url?: string; dataDir: string }, stores: StoreAccess): Promise<Dashboard['quarantine']> {
  return stores.quarantine({ url: store.url, dataDir: store.dataDir }, async (q) => {
    const items = await q.listQuarantined({ limit: MAX_QUARANTINE_ITEMS });
    const byState: Record<QuarantineRecipientState, number> = { held: 0, requested: 0, releasing: 0, released: 0, deleted: 0 };
    for (const item of items) for (const r of item.recipients) byState[r.state]++;
    return { items: items.length, byState, truncated: items.length >= MAX_QUARANTINE_ITEMS };
  });
}

function sourceOf(s: SourceReport): DashboardSource {
  return { ip: s.ip, key: s.key, label: s.label, wouldReject: s.wouldReject, reasons: s.reasons.slice(0, 5), senders: s.senders, lastSeen: s.lastSeen };
}

/** The dashboard in this thread (the worker runs it with the stores it keeps open; a test may too). */
export async function computeDashboard(request: DashboardRequest, stores: StoreAccess = storePerUse): Promise<Dashboard> {
  const cap = request.maxRecords ?? DASHBOARD_MAX_RECORDS;
  const selection = { url: request.store.url, dataDir: request.store.dataDir };
  const records: TraceRecord[] = await stores.main(selection, (store) => dashboardRecords(store, request.since, request.until, cap));
  const since = Date.parse(request.since);
  const until = Date.parse(request.until);
  const { verdicts, connectors } = tally(records);
  const { report, policyFragment } = await runReportOverRecords(request.policy, records, until);
  const refused = report.sources.filter((s) => s.wouldReject > 0);
  const pick = (labels: string[]) => refused.filter((s) => labels.includes(s.label)).slice(0, MAX_LISTED_SOURCES).map(sourceOf);
  return {
    window: { since: request.since, until: request.until, bucketMs: request.bucketMs, records: records.length, truncated: records.length >= cap },
    directSend: directSendSeries(records, since, until, request.bucketMs),
    verdicts,
    connectors,
    quarantine: await quarantineCounts(request.store, stores),
    enforceNow: {
      headline: report.headline.text,
      likelyAttacks: pick(['suspicious']),
      mayNeed: pick(['authorised']),
      unknown: pick(['unknown', 'forwarder']),
      connectorsToAdd: report.recommendations.map((r) => ({ name: r.name, senderIPAddresses: r.senderIPAddresses, certificateName: r.certificateName, senderDomains: r.senderDomains, evidence: r.evidence })),
      policyFragment,
    },
  };
}

export function computeDashboardInWorker(request: DashboardRequest): Promise<Dashboard> {
  return runInWorker<DashboardRequest, Dashboard>('dashboard', request);
}

/**
 * How long one computation answers every console asking for the same window: 2.5 s for a
 * one-hour window, growing with the window to 15 s at most. Reading 50,000 records costs about
 * a second of a core, and a day of hourly bars does not change visibly in 15 s, while a one-hour
 * view stays close to live.
 */
export function dashboardSharedMs(windowMs: number): number {
  return Math.min(15_000, Math.max(2_000, Math.round(windowMs / 1440)));
}

const MAX_SHARED = 32;
const shared = new Map<string, { at: number; ttlMs: number; value: Promise<Dashboard>; settled: boolean }>();

/**
 * One computation per key (the window, the bucket, the policy version) per ttlMs, shared by the
 * requests that ask meanwhile, in flight or done: twenty consoles cost one query, not twenty,
 * and a burst cannot queue up work on the gateway's cores. A computation still running is
 * shared however long it takes (on a busy gateway the workers run at the lowest priority and a
 * day of trace may take longer than its TTL): a second one for the same key would only compete
 * with it. A failure is not kept.
 */
export function sharedDashboard(key: string, ttlMs: number, compute: () => Promise<Dashboard>, nowMs = Date.now()): Promise<Dashboard> {
  const hit = shared.get(key);
  if (hit && (!hit.settled || nowMs - hit.at < hit.ttlMs)) return hit.value;
  for (const [k, v] of shared) if ((v.settled && nowMs - v.at >= v.ttlMs) || shared.size >= MAX_SHARED) shared.delete(k);
  const value = compute();
  const entry = { at: nowMs, ttlMs, value, settled: false };
  shared.set(key, entry);
  value.then(() => { entry.settled = true; }, () => { entry.settled = true; if (shared.get(key) === entry) shared.delete(key); });
  return value;
}
