// Heavy console work (a report over an uploaded export) runs in a worker thread, so parsing
// megabytes of CSV never stalls the gateway's event loop and with it the SMTP sessions (issue 13).
// The module given must export `run(input)`; its result comes back by structured clone.
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

export interface WorkerRunOptions {
  /** The worker is terminated and the promise rejects after this long (default 5 min). */
  timeoutMs?: number;
  /** Heap cap for the worker, so one huge upload cannot take the gateway's memory (default 512 MiB). */
  maxHeapMb?: number;
}

const ENTRY = new URL('./worker-entry.ts', import.meta.url);

export function runInWorker<I, O>(modulePath: string | URL, input: I, options: WorkerRunOptions = {}): Promise<O> {
  const moduleUrl = modulePath instanceof URL ? modulePath.href : modulePath.startsWith('file:') ? modulePath : pathToFileURL(modulePath).href;
  const worker = new Worker(ENTRY, {
    workerData: { moduleUrl, input },
    resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 512 },
    stdout: false, stderr: false,
  });
  return new Promise<O>((resolveRun, rejectRun) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(() => finish(() => rejectRun(new Error(`worker did not finish within ${options.timeoutMs ?? 300_000} ms`))), options.timeoutMs ?? 300_000);
    worker.once('message', (message: { ok: true; value: O } | { ok: false; message: string; name?: string }) => {
      finish(() => {
        if (message.ok) {
          resolveRun(message.value);
        } else {
          const err = new Error(message.message);
          if (message.name) err.name = message.name;
          rejectRun(err);
        }
      });
    });
    worker.once('error', (err) => finish(() => rejectRun(err)));
    worker.once('exit', (code) => finish(() => rejectRun(new Error(`worker exited with code ${code} before answering`))));
  });
}
