// mxward for the console-under-load bench: `mxward serve` as a child process, configured like the
// gateway bench's mxward (gateway/mxward.ts: no greeting delay, authentication off, relaying to an
// smtp-sink) plus the admin API and console on a loopback port with TLS, as an operator would run
// it. gateway/mxward.ts has no way to add the console section, hence this starter; the SMTP
// driver, the turn and the statistics are the gateway bench's own modules.
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep, waitForPort } from '../gateway/net.ts';
import type { Peer } from '../gateway/peer.ts';
import { ACCEPTED_DOMAIN, LISTED_IP } from '../gateway/peer.ts';
import { traceCounts } from '../gateway/mxward.ts';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'mxward.js');

/** The loopback range the seeded "branch office" connector covers (seed.ts sends from it). */
export const CONNECTOR_RANGE = '127.0.5.0/24';

export interface ConsoleGateway extends Peer {
  /** `https://127.0.0.1:PORT` of the admin API and console. */
  consoleUrl: string;
  /** The self-signed certificate the console serves (PEM), for the load client to trust. */
  ca: string;
  dataDir: string;
  /** The mxward CLI against this gateway's data directory; returns stdout. */
  cli(...args: string[]): Promise<string>;
}

export interface ConsoleGatewayOptions {
  dir: string;
  sinkPort: number;
  /** Extra node flags for serve, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

export async function startConsoleGateway(o: ConsoleGatewayOptions): Promise<ConsoleGateway> {
  const dataDir = join(o.dir, 'data');
  const port = await freePort();
  const consolePort = await freePort();
  const config = [
    'hostname: mxward.bench.test',
    'listeners:',
    `  inbound: { host: 127.0.0.1, port: ${port} }`,
    '  submission: null',
    'limits: { maxConnections: 400, maxConnectionsPerIp: 400, greetingDelayMs: 0 }',
    'logLevel: info',
    'auth: { enabled: false }',
    `console: { host: 127.0.0.1, port: ${consolePort}, tls: true }`,
    'delivery:',
    `  default: { type: smtp, host: 127.0.0.1, port: ${o.sinkPort}, starttls: 'off', concurrency: 20 }`,
  ];
  const configFile = join(o.dir, 'mxward.yaml');
  await writeFile(configFile, `${config.join('\n')}\n`);
  const cli = async (...args: string[]): Promise<string> =>
    (await run(process.execPath, [CLI, ...args, '--data-dir', dataDir], { maxBuffer: 16 * 2 ** 20 })).stdout;
  await cli('init');
  await cli('domain', 'add', ACCEPTED_DOMAIN);
  await cli('connector', 'add', 'partner', '--type', 'partner', '--ip', `${LISTED_IP}/32`, '--sender-domain', ACCEPTED_DOMAIN);
  // Report mode while the trace is seeded (Direct Send accepted and traced as would-reject);
  // run.ts switches the envelope check to enforce before the measured turns.
  await cli('org', 'set', '--reject-direct-send', 'report', '--reject-direct-send-header-from', 'report');
  await cli('connector', 'add', 'branch-office', '--type', 'partner', '--ip', CONNECTOR_RANGE, '--sender-domain', ACCEPTED_DOMAIN);

  const log = openSync(join(o.dir, 'mxward.log'), 'a');
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), CLI, 'serve', '--config', configFile, '--data-dir', dataDir],
    { stdio: ['ignore', log, log], cwd: o.dir });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // serve finishes what is in flight and exits; a CPU profile is written at exit.
    await Promise.race([exited, sleep(20_000).then(() => child.kill('SIGKILL'))]);
  };
  try {
    await waitForPort(port);
    await waitForPort(consolePort);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name: 'mxward',
    port,
    consoleUrl: `https://127.0.0.1:${consolePort}`,
    ca: await readFile(join(dataDir, 'tls', 'self-signed.crt'), 'utf8'),
    dataDir,
    cli,
    pids: () => (child.pid && child.exitCode === null ? [child.pid] : []),
    counts: async () => traceCounts(join(dataDir, 'mxward.db')),
    stop,
  };
}


/** A read-only API token for the load client (an auditor: dashboard and trace, nothing else). */
export async function createLoadToken(gw: ConsoleGateway): Promise<string> {
  const out = JSON.parse(await gw.cli('console', 'token', 'create', 'console-load-bench', '--role', 'auditor', '--scope', 'read', '--expires-days', '1', '--json')) as { token: string };
  return out.token;
}
