// The downstream every gateway relays to: Postfix's smtp-sink, counting the messages it receives.
// With -c it rewrites "sess=N quit=N mesg=N" on its stdout whenever a message ends.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { freePort, sleep, waitForPort } from './net.ts';

export interface Sink {
  port: number;
  /** Messages received since start. */
  received(): number;
  /** Resolves when received() reaches `count`; false after the timeout. */
  waitFor(count: number, timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * `dumpDir`: every message received is also written there as one file (smtp-sink -d), so the
 * header fields a gateway added can be read back; the directory must be writable by `user`.
 */
export async function startSink(user: string, dumpDir?: string): Promise<Sink> {
  const port = await freePort();
  // -m: simultaneous connections; backlog 1024 so a burst of relay connections is never refused.
  const dump = dumpDir ? ['-d', `${dumpDir}/m.`] : [];
  const child: ChildProcess = spawn('smtp-sink', ['-c', '-u', user, ...dump, '-m', '2000', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let tail = '';
  let count = 0;
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (text: string) => {
    tail = (tail + text).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    if (all.length > 0) count = Number(all[all.length - 1][1]);
  });
  await waitForPort(port);
  return {
    port,
    received: () => count,
    async waitFor(target, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (count < target) {
        if (Date.now() > until) return false;
        await sleep(20);
      }
      return true;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
