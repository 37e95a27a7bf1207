// Starting and stopping the load client (load-client.ts) around one measured turn: it runs in its
// own process; "ready" on its stdout means its first dashboard and trace page answered; closing its
// stdin stops it, and its last stdout line is the LoadReport.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from '../gateway/net.ts';
import type { LoadReport } from './load-report.ts';

const CLIENT = join(import.meta.dirname, 'load-client.ts');

export interface LoadOptions {
  url: string;
  caFile: string;
  token: string;
  rate: number;
  ips: string[];
  /** The client stops by itself after this long even if nobody tells it to. */
  maxSeconds: number;
  /** Both kinds of request (the default), or only one, to tell their costs apart. */
  mix?: 'both' | 'dashboard' | 'trace';
}

export interface RunningLoad {
  pid: number;
  /** Stops the load and returns its report. */
  finish(): Promise<LoadReport>;
  /** Kills it (cleanup after a failure). */
  kill(): void;
}

export async function startLoad(o: LoadOptions): Promise<RunningLoad> {
  const child: ChildProcess = spawn(process.execPath, [CLIENT, o.url, o.caFile, String(o.rate), String(o.maxSeconds), o.ips.join(','), o.mix ?? 'both'], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, MXWARD_BENCH_TOKEN: o.token },
  });
  const lines: string[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    const parts = (pending + text).split('\n');
    pending = parts.pop()!;
    lines.push(...parts.filter((l) => l.trim()));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  const until = Date.now() + 60_000;
  while (!lines.includes('ready')) {
    if (child.exitCode !== null) throw new Error(`the load client exited (${child.exitCode}) before it was ready`);
    if (Date.now() > until) {
      kill();
      throw new Error('the load client was not ready after 60 s');
    }
    await sleep(20);
  }
  return {
    pid: child.pid!,
    kill,
    async finish() {
      child.stdin!.end();
      const code = await Promise.race([exited, sleep(45_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        kill();
        throw new Error('the load client did not stop within 45 s');
      }
      const last = lines[lines.length - 1];
      if (code !== 0 || !last?.startsWith('{')) throw new Error(`the load client exited with ${code} and no report`);
      return JSON.parse(last) as LoadReport;
    },
  };
}
