// Real `mxward serve` processes for the cluster proof (test/e2e/cluster.test.ts) and the cluster
// bench (bench/cluster/run.ts): each node is a child process started through bin/mxward.js with its
// own bootstrap file and data directory, on a loopback port it picks itself, sharing one store URL.
// Stopping sends SIGTERM and, if the node has not exited within a bound, SIGKILL.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mxwardBin, run } from '../helpers/commands.ts';
import type { RunResult } from '../helpers/commands.ts';

export interface ServeNode {
  name: string;
  dataDir: string;
  configFile: string;
  /** The inbound SMTP port the node reported. */
  port: number;
  /** As the node names itself in the nodes table and the trace. */
  nodeId: string;
  /** The mxward CLI against this node's bootstrap file (its data directory and the shared store). */
  cli(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** Everything the process wrote to stderr so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface ServeNodeOptions {
  name: string;
  /** A directory of the caller's; the node's files go under root/name. */
  root: string;
  storeUrl: string;
  /** Bootstrap settings merged over the defaults below (written as JSON, which YAML reads). */
  config?: Record<string, unknown>;
  startTimeoutMs?: number;
}

export async function startServeNode(o: ServeNodeOptions): Promise<ServeNode> {
  const dir = join(o.root, o.name);
  const dataDir = join(dir, 'data');
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, 'mxward.yaml');
  await writeFile(configFile, JSON.stringify({
    hostname: `${o.name}.cluster.test`, dataDir, store: { url: o.storeUrl }, logLevel: 'warn',
    listeners: { submission: null }, ...o.config,
  }, null, 2));
  const child: ChildProcess = spawn(process.execPath, [mxwardBin, 'serve', '--workers', '1', '--config', configFile, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolvePort, rejectPort) => {
    const timer = setTimeout(() => rejectPort(new Error(`${o.name} did not start: ${stderr}`)), o.startTimeoutMs ?? 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /inbound SMTP on 127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolvePort(Number(m[1])); }
    });
    void exited.then((code) => { clearTimeout(timer); rejectPort(new Error(`${o.name} exited (${code}) before listening: ${stderr}`)); });
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  let stopped: Promise<void> | null = null;
  return {
    name: o.name, dataDir, configFile, port, nodeId: `${hostname()}:${port}`,
    cli: (args, timeoutMs) => run(process.execPath, [mxwardBin, ...args, '--config', configFile], { timeoutMs }),
    log: () => stderr,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(killer);
      })();
      return stopped;
    },
  };
}

export interface NodesJson {
  policyVersion: number;
  nodes: Array<{ nodeId: string; address: string; policyVersion: number; policyAppliedAt: string | null; live: boolean; queueDepth: number; storeOutage: string | null }>;
}

/** `mxward nodes --json` through one node's CLI. */
export async function nodesJson(node: ServeNode): Promise<NodesJson> {
  const r = await node.cli(['nodes', '--json']);
  if (r.code !== 0) throw new Error(`mxward nodes: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout) as NodesJson;
}
