// The console's frequent reads (the dashboard over a day of trace, trace searches on SQLite) run
// on worker threads, so the gateway's event loop keeps answering SMTP (issue 13). Unlike a report
// upload (one fresh worker per run, web/run-in-worker.ts), these come every few seconds from
// every open console: a small warm pool (ended after a quiet half minute) saves starting a thread
// and loading modules on every request. A worker is referenced only while it works, so an idle
// one never keeps a process alive.
//
// The pool must not take the SMTP path's CPU: its threads run at the lowest priority
// (worker-main.ts), there is one worker where the machine has two cores or fewer (a second would
// only compete with the event loop), and at most MAX_WAITING tasks wait for a worker; beyond
// that a task fails at once with WorkerPoolBusyError (the API answers 503 `busy` with
// Retry-After) instead of piling up work that keeps the workers busy long after the burst.
import { Worker } from 'node:worker_threads';
import type { Transferable } from 'node:worker_threads';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceError } from './service-error.ts';
import type { ServiceErrorCode } from './service-error.ts';

export type WorkerTaskName = 'dashboard' | 'trace';

export interface TaskMessage { id: number; name: WorkerTaskName; input: unknown }
export type TaskReply =
  /**
   * The value as JSON text: the API sends these answers as JSON anyway, and one string crosses
   * the thread boundary as a flat copy that JSON.parse rebuilds faster than the structured
   * clone of a page of records (about half the event loop's time for a 50-record page).
   */
  | { id: number; ok: true; json: string }
  | { id: number; ok: false; error: { name: string; message: string; code?: string; path?: string } };

/** One worker where the machine has two cores or fewer: a second would compete with the event loop. */
export const MAX_WORKERS = availableParallelism() <= 2 ? 1 : 2;
/** Tasks that may wait for a worker: a burst of a few consoles, not an unbounded backlog. */
export const MAX_WAITING = 16;
const RETRY_AFTER_SECONDS = 1;
const IDLE_MS = 30_000;
const CLOSE_MS = 5_000;
const WORKER_ENV = process.env.NODE_COMPILE_CACHE || process.env.NODE_DISABLE_COMPILE_CACHE
  ? process.env
  : { ...process.env, NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };

interface Pending { message: TaskMessage; transfer: Transferable[]; resolve(v: unknown): void; reject(e: Error): void }
interface Slot { worker: Worker; task: Pending | null; idleTimer: NodeJS.Timeout | null }

/** The pool is full: the caller should come back in retryAfterSeconds (the API: 503 `busy`). */
export class WorkerPoolBusyError extends Error {
  readonly retryAfterSeconds = RETRY_AFTER_SECONDS;
  constructor() {
    super(`the console's worker pool is busy (${MAX_WAITING} tasks waiting); try again shortly`);
    this.name = 'WorkerPoolBusyError';
  }
}

/**
 * The JSON text each task result was parsed from, so the API can send that text as the body
 * instead of serialising the same value again (web/api-handler.ts). Keyed by the parsed object,
 * which nobody may change afterwards (a dashboard is shared by many requests anyway).
 */
const jsonTexts = new WeakMap<object, string>();

/** The JSON text a worker result was parsed from, when `value` is such a result. */
export function workerJsonText(value: unknown): string | undefined {
  return value !== null && typeof value === 'object' ? jsonTexts.get(value) : undefined;
}

function parseResult(json: string): unknown {
  const value: unknown = JSON.parse(json);
  if (value !== null && typeof value === 'object') jsonTexts.set(value, json);
  return value;
}

const slots: Slot[] = [];
const queue: Pending[] = [];
let nextId = 1;

function errorOf(reply: Extract<TaskReply, { ok: false }>): Error {
  const e = reply.error;
  if (e.name === 'ServiceError' && e.code) return new ServiceError(e.code as ServiceErrorCode, e.message, e.path);
  return new Error(`worker task failed: ${e.message}`);
}

function finish(slot: Slot, settle: (p: Pending) => void): void {
  const task = slot.task;
  slot.task = null;
  if (task) settle(task);
  slot.worker.unref();
  dispatch();
  if (!slot.task) {
    slot.idleTimer = setTimeout(() => retire(slot), IDLE_MS);
    slot.idleTimer.unref();
  }
}

function remove(slot: Slot): void {
  const i = slots.indexOf(slot);
  if (i >= 0) slots.splice(i, 1);
  if (slot.idleTimer) clearTimeout(slot.idleTimer);
}

/** An idle worker closes its store handles and ends (terminated if it does not within CLOSE_MS). */
function retire(slot: Slot): void {
  remove(slot);
  slot.worker.postMessage('close');
  setTimeout(() => void slot.worker.terminate(), CLOSE_MS).unref();
}

function spawn(): Slot {
  const worker = new Worker(new URL('./worker-main.ts', import.meta.url), { env: WORKER_ENV });
  const slot: Slot = { worker, task: null, idleTimer: null };
  worker.on('message', (reply: TaskReply) => {
    finish(slot, (p) => (reply.ok ? p.resolve(parseResult(reply.json)) : p.reject(errorOf(reply))));
  });
  // A crashed worker fails its task only; the next task gets a fresh worker.
  const died = (err: Error) => {
    remove(slot);
    const task = slot.task;
    slot.task = null;
    task?.reject(new Error(`worker thread ended: ${err.message}`, { cause: err }));
    dispatch();
  };
  worker.on('error', died);
  worker.on('exit', (code) => { if (slots.includes(slot) || slot.task) died(new Error(`exit code ${code}`)); });
  slots.push(slot);
  return slot;
}

function dispatch(): void {
  while (queue.length > 0) {
    let slot = slots.find((s) => s.task === null);
    if (!slot && slots.length < MAX_WORKERS) slot = spawn();
    if (!slot) return;
    const task = queue.shift()!;
    if (slot.idleTimer) { clearTimeout(slot.idleTimer); slot.idleTimer = null; }
    slot.task = task;
    slot.worker.ref();
    slot.worker.postMessage(task.message, task.transfer);
  }
}

/** Runs a named task (worker-main.ts) on a worker thread; transfer hands big buffers over without a copy. */
export function runInWorker<I, O>(name: WorkerTaskName, input: I, transfer: readonly Transferable[] = []): Promise<O> {
  if (queue.length >= MAX_WAITING) return Promise.reject(new WorkerPoolBusyError());
  return new Promise<O>((resolve, reject) => {
    queue.push({ message: { id: nextId++, name, input }, transfer: [...transfer], resolve: resolve as (v: unknown) => void, reject });
    dispatch();
  });
}
