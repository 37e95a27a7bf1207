// The worker side of run-in-worker.ts: imports the module, calls its run(input) and posts the
// result or the error's message (never a stack: it may reach an API client).
import { parentPort, workerData } from 'node:worker_threads';

const { moduleUrl, input } = workerData as { moduleUrl: string; input: unknown };
try {
  const mod = (await import(moduleUrl)) as { run?: (input: unknown) => unknown };
  if (typeof mod.run !== 'function') throw new Error(`${moduleUrl} does not export run(input)`);
  parentPort!.postMessage({ ok: true, value: await mod.run(input) });
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({ ok: false, message: e?.message ?? String(err), name: e?.name });
}
