// Message trace queries (SPEC §7), shared by `mxward trace` and the API: filters, a time range,
// and cursor pagination. The cursor is opaque to callers: the (time, transaction id) of the last
// row of a page, so the next page starts strictly after it in a total order that new records
// written meanwhile cannot shift (keyset paging, not offsets).
import type { DirectSendKind, TraceRecord, VerdictAction } from '../domain/types.ts';
import type { TraceCursor, TraceFilter, TraceStore } from '../store/ports.ts';
import { ServiceError } from './service-error.ts';
import { storePerUse } from './worker-stores.ts';
import type { StoreAccess } from './worker-stores.ts';
import { runInWorker } from './worker-task.ts';

export const TRACE_VERDICTS = ['accept', 'quarantine', 'junk', 'reject', 'tempfail', 'abandoned'] as const;
export type TraceVerdict = (typeof TRACE_VERDICTS)[number];

export interface TraceQuery {
  since?: string;
  until?: string;
  ip?: string;
  sender?: string;
  recipient?: string;
  verdict?: TraceVerdict;
  /** Any Direct Send kind (true) or one kind. */
  directSend?: boolean;
  directSendKind?: DirectSendKind;
  node?: string;
}

export interface TracePage {
  items: TraceRecord[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** The API's bound on one page; the CLI's own default is smaller. */
export const MAX_TRACE_PAGE = 500;

/** An ISO time or an age (`30m`, `2h`, `7d`) counted back from `now`; null when it is neither. */
export function parseTimeOrAge(value: string, now: Date): string | null {
  const age = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (age) {
    const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
    // An age beyond the epoch means "everything" (and 10^20 days must not become an invalid Date).
    return new Date(Math.max(0, now.getTime() - Number(age[1]) * unitMs)).toISOString();
  }
  const t = Date.parse(value);
  // Years 1 to 9999 only: beyond them toISOString writes `+010000-…` or `-000001-…`, which
  // PostgreSQL refuses (a 500 instead of a validation error).
  return Number.isNaN(t) || t < MIN_TIME_MS || t > MAX_TIME_MS ? null : new Date(t).toISOString();
}

const MIN_TIME_MS = Date.parse('0001-01-01T00:00:00Z');
const MAX_TIME_MS = Date.parse('9999-12-31T23:59:59.999Z');

export function encodeCursor(cursor: TraceCursor): string {
  return Buffer.from(JSON.stringify([cursor.time, cursor.transactionId]), 'utf8').toString('base64url');
}

/** A cursor that did not come from encodeCursor is a client mistake: validation_failed on `cursor`. */
export function decodeCursor(text: string): TraceCursor {
  const bad = () => new ServiceError('validation_failed', 'cursor: not a cursor from a previous page', 'cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') throw bad();
  const [time, transactionId] = parsed as [string, string];
  // Only the UTC ISO form encodeCursor wrote (record times are toISOString): a looser date that
  // Date.parse accepts (`1`, `2026`, Feb 30, a year past 9999) would reach PostgreSQL's
  // ::timestamptz and fail there as a 500.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(time)) throw bad();
  const timeMs = Date.parse(time);
  if (Number.isNaN(timeMs) || timeMs < MIN_TIME_MS || timeMs > MAX_TIME_MS || new Date(timeMs).toISOString().slice(0, 19) !== time.slice(0, 19)) throw bad();
  if (transactionId.length === 0 || transactionId.length > 200) throw bad();
  return { time, transactionId };
}

function filterOf(query: TraceQuery): TraceFilter {
  if (query.since && query.until && query.since >= query.until) {
    throw new ServiceError('validation_failed', 'until: must be later than since', 'until');
  }
  return {
    since: query.since, until: query.until, ip: query.ip, sender: query.sender, recipient: query.recipient,
    // `abandoned` is stored like the actions; the store's type names only the decided ones.
    verdict: query.verdict as VerdictAction | undefined,
    directSend: query.directSend || undefined, directSendKind: query.directSendKind, node: query.node,
  };
}

/** One page, newest first by message time. Reads one row more than asked to know whether a next page exists. */
export async function searchTrace(store: TraceStore, query: TraceQuery, page: { limit: number; cursor?: string | null }): Promise<TracePage> {
  if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_TRACE_PAGE) {
    throw new ServiceError('validation_failed', `limit: expected a whole number from 1 to ${MAX_TRACE_PAGE}`, 'limit');
  }
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const rows = await store.queryTrace({ ...filterOf(query), order: 'time', after, limit: page.limit + 1 });
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > page.limit && last ? encodeCursor({ time: last.time, transactionId: last.transactionId }) : null };
}

/** The CLI's listing: newest written first (as it always was), at most `limit`. */
export async function listTrace(store: TraceStore, query: TraceQuery, limit: number): Promise<TraceRecord[]> {
  return store.queryTrace({ ...filterOf(query), limit });
}

/** The full record of one transaction: every rule hit, the auth results, delivery progress. */
export async function traceTransaction(store: TraceStore, transactionId: string): Promise<TraceRecord> {
  const [record] = await store.queryTrace({ transactionId, limit: 1 });
  if (!record) throw new ServiceError('not_found', `no trace record for transaction ${transactionId}`);
  return record;
}

/** Where the worker finds the store: the gateway's own selection. */
export interface StoreSelection {
  url?: string;
  dataDir: string;
}

export type TraceTask =
  | { kind: 'search'; store: StoreSelection; query: TraceQuery; page: { limit: number; cursor?: string | null } }
  | { kind: 'one'; store: StoreSelection; transactionId: string };

/** Runs on a worker thread, on the worker's own connection to the store (kept open there). */
export function runTraceTask(task: TraceTask, stores: StoreAccess = storePerUse): Promise<TracePage | TraceRecord> {
  return stores.main<TracePage | TraceRecord>({ url: task.store.url, dataDir: task.store.dataDir }, (store) =>
    (task.kind === 'search' ? searchTrace(store, task.query, task.page) : traceTransaction(store, task.transactionId)));
}

/**
 * The API's entry. node:sqlite answers synchronously, so a search that scans a month of trace
 * (a `sender` substring, a transaction id without an index) would hold the gateway's event loop
 * and with it every SMTP session: on SQLite the query runs on a worker thread. PostgreSQL
 * queries are asynchronous already and run here, on the gateway's pool.
 */
export class TraceQueries {
  readonly #store: TraceStore;
  readonly #selection: StoreSelection;

  constructor(store: TraceStore, selection: StoreSelection) {
    this.#store = store;
    this.#selection = selection;
  }

  search(query: TraceQuery, page: { limit: number; cursor?: string | null }): Promise<TracePage> {
    if (this.#selection.url) return searchTrace(this.#store, query, page);
    return runInWorker<TraceTask, TracePage>('trace', { kind: 'search', store: this.#selection, query, page });
  }

  one(transactionId: string): Promise<TraceRecord> {
    if (this.#selection.url) return traceTransaction(this.#store, transactionId);
    return runInWorker<TraceTask, TraceRecord>('trace', { kind: 'one', store: this.#selection, transactionId });
  }
}
