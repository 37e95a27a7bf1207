// The worker thread's side of worker-task.ts: runs one named task per message and answers with
// its value or its error (a ServiceError keeps its code and path across the thread boundary).
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { computeDashboard } from './dashboard.ts';
import type { DashboardRequest } from './dashboard.ts';
import { runTraceTask } from './trace-queries.ts';
import type { TraceTask } from './trace-queries.ts';
import { heldStores } from './worker-stores.ts';
import type { TaskMessage, TaskReply } from './worker-task.ts';

/**
 * The console's reads wait for CPU the SMTP path leaves over (issue 13): on Linux a thread has
 * its own nice value, and setpriority on its thread id (`/proc/thread-self` -> `PID/task/TID`)
 * changes this thread only, never the gateway's event loop. Elsewhere (no /proc, or the priority
 * applies to the whole process) the thread keeps the process's priority.
 */
function lowerThisThreadsPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(/\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, constants.priority.PRIORITY_LOW);
  } catch {
    // No /proc, or not allowed: the work still runs, at the normal priority.
  }
}

lowerThisThreadsPriority();

/** This thread's store handles, open for its life (worker-stores.ts). */
const stores = heldStores();

const tasks = {
  dashboard: (input: unknown) => computeDashboard(input as DashboardRequest, stores),
  trace: (input: unknown) => runTraceTask(input as TraceTask, stores),
};

parentPort!.on('message', (message: TaskMessage | 'close') => {
  if (message === 'close') {
    // The pool retired this idle thread: close the stores before the thread ends.
    void stores.closeAll().finally(() => process.exit(0));
    return;
  }
  void (async () => {
    let reply: TaskReply;
    try {
      reply = { id: message.id, ok: true, json: JSON.stringify(await tasks[message.name](message.input)) ?? 'null' };
    } catch (err) {
      const e = err as Error & { code?: unknown; path?: unknown };
      reply = { id: message.id, ok: false, error: { name: e.name, message: e.message, code: typeof e.code === 'string' ? e.code : undefined, path: typeof e.path === 'string' ? e.path : undefined } };
    }
    parentPort!.postMessage(reply);
  })();
});
