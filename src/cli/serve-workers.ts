// `mxward serve --workers N`: the primary process. It holds no listener and no store; it starts N
// worker processes (each `mxward serve` again, told its place by MXWARD_WORKER), which are full
// gateways binding the same ports with SO_REUSEPORT, so the kernel spreads new connections over
// them and no process hands sockets around. Each worker delivers its own share of the one spool
// (spool.ts). The primary restarts a worker that dies (its successor recovers the same share),
// forwards SIGTERM/SIGINT, and exits once every worker has finished its transactions in flight.
// A worker whose primary disappears (SIGKILL) exits at once: an orphan would keep the port.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CliIo } from './io.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'mxward.js');

export interface HostPort { host: string; port: number }
export interface WorkerPlace { index: number; count: number; inbound: HostPort; submission: HostPort | null }

/**
 * `auto`: one worker per CPU this process may use, on Linux, where SO_REUSEPORT balances
 * connections across the workers' sockets; elsewhere one process, as before.
 */
export function resolveWorkerCount(value: 'auto' | number, platform: NodeJS.Platform = process.platform): number {
  if (value !== 'auto') return value;
  return platform === 'linux' ? Math.max(1, Math.min(availableParallelism(), 64)) : 1;
}

/** The place a worker process was started in, or null in the primary / a single process. */
export function workerPlaceFrom(env: NodeJS.ProcessEnv): WorkerPlace | null {
  const raw = env.MXWARD_WORKER;
  if (!raw) return null;
  const place = JSON.parse(raw) as WorkerPlace;
  if (!Number.isInteger(place.index) || !Number.isInteger(place.count) || place.index < 0 || place.index >= place.count) {
    throw new Error(`MXWARD_WORKER is not a worker place: ${raw}`);
  }
  return place;
}

/** Port 0 means "any": chosen once here, so every worker binds the same one. */
async function concretePort(at: HostPort): Promise<HostPort> {
  if (at.port !== 0) return at;
  const probe = createServer();
  await new Promise<void>((resolveListen, rejectListen) => {
    probe.once('error', rejectListen);
    probe.listen(0, at.host, () => resolveListen());
  });
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return { host: at.host, port };
}

interface Slot { child: ChildProcess | null; startedAt: number; quickFailures: number }

export async function runPrimary(input: { argv: string[]; count: number; inbound: HostPort; submission: HostPort | null; dataDir: string; io: CliIo; logger: Logger }): Promise<number> {
  const { io, count, logger } = input;
  const inbound = await concretePort(input.inbound);
  const submission = input.submission ? await concretePort(input.submission) : null;
  const slots: Slot[] = Array.from({ length: count }, () => ({ child: null, startedAt: 0, quickFailures: 0 }));
  let stopping = false;
  const exits = new Set<Promise<void>>();

  /** Starts worker `index`; resolves when it listens, rejects with its exit code if it dies first. */
  const start = (index: number): Promise<void> => {
    const place: WorkerPlace = { index, count, inbound, submission };
    const child = fork(BIN, ['serve', ...input.argv], {
      env: { ...io.env, MXWARD_WORKER: JSON.stringify(place) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const slot = slots[index];
    slot.child = child;
    slot.startedAt = Date.now();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    exits.add(exited);
    exited.then(() => exits.delete(exited));
    return new Promise<void>((resolveReady, rejectReady) => {
      let ready = false;
      child.on('message', (m: { type?: string }) => {
        if (m?.type === 'ready') { ready = true; resolveReady(); }
      });
      child.once('exit', (code, signal) => {
        if (slot.child === child) slot.child = null;
        if (!ready) { rejectReady(Object.assign(new Error(`worker ${index + 1} exited before listening`), { exitCode: code ?? 1 })); return; }
        if (stopping) return;
        restart(index, child.pid, code, signal);
      });
    });
  };

  const restart = (index: number, pid: number | undefined, code: number | null, signal: NodeJS.Signals | null) => {
    const slot = slots[index];
    slot.quickFailures = Date.now() - slot.startedAt < 10_000 ? slot.quickFailures + 1 : 0;
    const delayMs = Math.min(5_000, 100 * 2 ** slot.quickFailures);
    logger.warn({ stage: 'serve', event: 'worker-exited', worker: index + 1, pid, code, signal, restartInMs: delayMs },
      `mxward: worker ${index + 1} (pid ${pid}) exited (${signal ?? `code ${code}`}); restarting in ${delayMs} ms, its queue share is recovered`);
    setTimeout(() => {
      if (stopping) return;
      start(index).catch((err: Error) => {
        logger.error({ stage: 'serve', event: 'worker-failed', worker: index + 1 }, `mxward: ${err.message}`);
        if (!stopping && !slots[index].child) restart(index, undefined, (err as { exitCode?: number }).exitCode ?? 1, null);
      });
    }, delayMs).unref();
  };

  const stopAll = async (signal: NodeJS.Signals) => {
    stopping = true;
    for (const slot of slots) slot.child?.kill(signal);
    while (exits.size > 0) await Promise.all([...exits]);
  };

  // One after the other: the first start creates the store schema and the self-signed certificate.
  try {
    for (let i = 0; i < count; i++) await start(i);
  } catch (err) {
    logger.error({ stage: 'serve', event: 'start-failed' }, `mxward: ${(err as Error).message}`);
    await stopAll('SIGTERM');
    return (err as { exitCode?: number }).exitCode || 1;
  }
  const where = (a: HostPort) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);
  logger.info({ stage: 'serve', event: 'ready', inbound: where(inbound), submission: submission ? where(submission) : null, workers: count, dataDir: input.dataDir },
    `mxward: inbound SMTP on ${where(inbound)}` + (submission ? `, submission on ${where(submission)}` : '') +
    `, ${count} workers (pids ${slots.map((s) => s.child?.pid).join(' ')}), data in ${input.dataDir}`);

  const signal = await new Promise<NodeJS.Signals>((resolveStop) => {
    const onSignal = (s: NodeJS.Signals) => resolveStop(s);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  // Ignore a repeated signal (Ctrl-C reaches the whole process group) while the workers finish.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  logger.info({ stage: 'serve', event: 'stopping', signal }, `mxward: ${signal} received, finishing transactions in flight`);
  await stopAll('SIGTERM');
  return 0;
}
