// The worker thread's side of worker-task.ts: runs one named task per message and answers with
// its value or its error (a ServiceError keeps its code and path across the thread boundary).
import { parentPort } from 'node:worker_threads';
import { computeDashboard } from './dashboard.ts';
import type { DashboardRequest } from './dashboard.ts';
import { runTraceTask } from './trace-queries.ts';
import type { TraceTask } from './trace-queries.ts';
import type { TaskMessage, TaskReply } from './worker-task.ts';

const tasks = {
  dashboard: (input: unknown) => computeDashboard(input as DashboardRequest),
  trace: (input: unknown) => runTraceTask(input as TraceTask),
};

parentPort!.on('message', (message: TaskMessage) => {
  void (async () => {
    let reply: TaskReply;
    try {
      reply = { id: message.id, ok: true, value: await tasks[message.name](message.input) };
    } catch (err) {
      const e = err as Error & { code?: unknown; path?: unknown };
      reply = { id: message.id, ok: false, error: { name: e.name, message: e.message, code: typeof e.code === 'string' ? e.code : undefined, path: typeof e.path === 'string' ? e.path : undefined } };
    }
    parentPort!.postMessage(reply);
  })();
});
