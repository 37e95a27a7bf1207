// Where the gateway's CPU goes, per thread, from /proc/PID/task/TID: the event loop (MainThread)
// that answers SMTP, the worker_threads pool (dashboard, trace searches: the console's work), and
// the rest (V8's helper threads: GC and compilation; libuv's pool: fs, crypto). Telling them apart
// separates "the API blocks the event loop" from "the API's workers take CPU the machine lacks".
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

const TICKS_PER_SECOND = 100;

export interface ThreadCpu { main: number; workers: number; other: number }

type Group = keyof ThreadCpu;

function groupOf(comm: string): Group {
  if (comm === 'MainThread') return 'main';
  // worker_threads are named after the Worker's `name` option, "WorkerThread" by default.
  if (comm.startsWith('WorkerThread')) return 'workers';
  return 'other';
}

function tasks(pid: number): Array<{ tid: number; comm: string; ticks: number }> {
  const out: Array<{ tid: number; comm: string; ticks: number }> = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ tid: Number(t), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds of the live threads of `pid`, by group. A worker thread that ended between two
 * readings takes its time with it, so differences are exact only while the pool stays up (it is
 * a warm pool: its threads live as long as the gateway).
 */
export function threadCpu(pid: number): ThreadCpu {
  const sum: ThreadCpu = { main: 0, workers: 0, other: 0 };
  for (const t of tasks(pid)) sum[groupOf(t.comm)] += t.ticks / TICKS_PER_SECOND;
  return sum;
}

export function diffCpu(after: ThreadCpu, before: ThreadCpu): ThreadCpu {
  return { main: after.main - before.main, workers: after.workers - before.workers, other: after.other - before.other };
}

/**
 * Diagnostic (--nice-workers): lowers the scheduling priority of the gateway's worker_threads
 * only (on Linux a thread's TID is a valid setpriority target). Returns how many were changed.
 */
export function niceWorkerThreads(pid: number, nice = 19): number {
  let n = 0;
  for (const t of tasks(pid)) {
    if (groupOf(t.comm) !== 'workers') continue;
    try {
      setPriority(t.tid, nice);
      n += 1;
    } catch {
      // ended meanwhile
    }
  }
  return n;
}
