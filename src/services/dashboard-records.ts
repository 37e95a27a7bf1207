// The records one dashboard computation reads (issue 13). Parsing every record of a day of
// trace was most of a computation's CPU (JSON.parse and the garbage it leaves), repeated every
// few seconds for the same records. Selecting the fields in SQL instead (json_extract) costs
// SQLite more than V8's parse saves, so a worker keeps what it parsed: per store handle, the
// fields the dashboard and the report read, by the record's sequence number. Each computation
// reads the window's sequence numbers from an index and parses only records it has not seen.
// A trace record's JSON is written once (delivery progress lives in other columns), so a kept
// record never goes stale; a purged one is no longer in the window's numbers.
import type { TraceRecord } from '../domain/types.ts';
import type { Store } from '../store/ports.ts';

/** What a store offers to read a window by sequence number (the SQLite store). */
interface SeqReader {
  traceSeqsInWindow(since: string, until: string, limit: number): number[];
  traceRecordsBySeq(seqs: readonly number[]): Array<{ seq: number; record: string }>;
}

function readsBySeq(store: Store): store is Store & SeqReader {
  const s = store as Partial<SeqReader>;
  return typeof s.traceSeqsInWindow === 'function' && typeof s.traceRecordsBySeq === 'function';
}

/**
 * The fields computeDashboard and the report over the trace (report/import/mxward-trace.ts) read.
 * Rule hits, ids, TLS details, queue and delivery fields are left out of what is kept.
 */
function keptFields(r: TraceRecord): TraceRecord {
  return {
    time: r.time, remoteIp: r.remoteIp, helo: r.helo, ptr: r.ptr, tlsClientCertificate: r.tlsClientCertificate,
    authUser: r.authUser, connector: r.connector, attribution: r.attribution, mailFrom: r.mailFrom, recipients: r.recipients,
    headerFrom: r.headerFrom, messageId: r.messageId, subject: r.subject, directSend: r.directSend,
    directSendWouldReject: r.directSendWouldReject, auth: r.auth, verdict: r.verdict, reply: r.reply,
  } as TraceRecord;
}

/** Parsed records kept per store handle (a worker's held handle; a fresh one starts empty). */
const kept = new WeakMap<Store, Map<number, TraceRecord>>();

/**
 * Beyond this many kept records, keep only the latest window's. Every window ends now and is
 * capped at its newest records, so the windows consoles ask for (1 h, 6 h, a day) share the
 * newest 50,000 (DASHBOARD_MAX_RECORDS) and this bound is rarely reached: about 30 MB of a
 * worker's heap for 50,000 records in the bench, freed when the idle worker ends.
 */
const MAX_KEPT = 60_000;

/**
 * The window's records, newest first by time (as queryTrace with order `time` returns them),
 * at most `limit`: with the fields the dashboard reads on SQLite, whole records elsewhere.
 */
export async function dashboardRecords(store: Store, since: string, until: string, limit: number): Promise<TraceRecord[]> {
  if (!readsBySeq(store)) return store.queryTrace({ since, until, order: 'time', limit });
  let byseq = kept.get(store);
  if (!byseq) {
    byseq = new Map();
    kept.set(store, byseq);
  }
  const seqs = store.traceSeqsInWindow(since, until, limit);
  const missing = seqs.filter((seq) => !byseq.has(seq));
  for (const { seq, record } of store.traceRecordsBySeq(missing)) byseq.set(seq, keptFields(JSON.parse(record) as TraceRecord));
  const records: TraceRecord[] = [];
  for (const seq of seqs) {
    const r = byseq.get(seq);
    // Purged between the two reads: left out, as a query a moment later would.
    if (r) records.push(r);
  }
  if (byseq.size > MAX_KEPT) {
    const inWindow = new Set(seqs);
    for (const seq of byseq.keys()) if (!inWindow.has(seq)) byseq.delete(seq);
  }
  return records;
}
