// mxward under test: `mxward serve` as a child process with a bootstrap file in a temporary
// directory, the Direct Send policy set through the CLI, accepted mail relayed to the sink.
import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import { freePort, sleep, waitForPort } from './net.ts';
import type { Peer, PeerOptions, ServerCounts } from './peer.ts';
import { ACCEPTED_DOMAIN, LISTED_IP } from './peer.ts';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'mxward.js');

export interface MxwardOptions extends PeerOptions {
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] when profiling. */
  nodeArgs?: string[];
  /**
   * SPF/DKIM/DMARC on, against this resolver (`IP:PORT`); absent = authentication off.
   * `noDnsCache`: every answer expires at once (dnsMaxTtlSeconds 0), so each message asks again.
   */
  auth?: { dnsServer: string; noDnsCache?: boolean };
  /** `workers:` in the bootstrap; absent = mxward's default (1). */
  workers?: number | 'auto';
}

async function cli(dataDir: string, ...args: string[]): Promise<void> {
  await run(process.execPath, [CLI, ...args, '--data-dir', dataDir]);
}

/** The trace database of the mxward started in `dir` (the auth set reads its auth results). */
export function mxwardDatabase(dir: string): string {
  return join(dir, 'data', 'mxward.db');
}

export async function startMxward(options: MxwardOptions): Promise<Peer> {
  const { dir } = options;
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const config = [
    'hostname: mxward.bench.test',
    // Worker processes sharing the port (serve --workers); the bench measures the whole tree.
    ...(options.workers === undefined ? [] : [`workers: ${options.workers}`]),
    'listeners:',
    `  inbound: { host: 127.0.0.1, port: ${port} }`,
    '  submission: null',
    'limits:',
    `  maxConnections: ${options.maxSessions + 100}`,
    `  maxConnectionsPerIp: ${options.maxSessions + 100}`,
    // No early-talker pause: neither peer runs one (Postfix smtpd without postscreen, Haraka
    // without its early_talker plugin). mxward's default is 100 ms (docs/performance.md).
    '  greetingDelayMs: 0',
    'logLevel: info',
    // The peers do no email authentication; the auth-on set (scenarios.ts) turns it on.
    ...(options.auth ? ['auth:', '  enabled: true', `  dnsServers: [${JSON.stringify(options.auth.dnsServer)}]`,
      ...(options.auth.noDnsCache ? ['  dnsMaxTtlSeconds: 0'] : [])] : ['auth: { enabled: false }']),
    'delivery:',
    // Postfix's default_destination_concurrency_limit is 20; the same ceiling here.
    `  default: { type: smtp, host: 127.0.0.1, port: ${options.sinkPort}, starttls: 'off', concurrency: 20 }`,
  ];
  const configFile = join(dir, 'mxward.yaml');
  await writeFile(configFile, `${config.join('\n')}\n`);
  await cli(dataDir, 'init'); // admin commands refuse a missing store since `mxward init` exists
  await cli(dataDir, 'domain', 'add', ACCEPTED_DOMAIN);
  await cli(dataDir, 'org', 'set', '--reject-direct-send', 'enforce');
  await cli(dataDir, 'connector', 'add', 'partner', '--type', 'partner', '--ip', `${LISTED_IP}/32`, '--sender-domain', ACCEPTED_DOMAIN);

  const log = openSync(join(dir, 'mxward.log'), 'a');
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, 'serve', '--config', configFile, '--data-dir', dataDir],
    { stdio: ['ignore', log, log], cwd: dir });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitForPort(port);
  return {
    name: 'mxward',
    port,
    pids: () => (child.pid && child.exitCode === null ? [child.pid] : []),
    counts: async () => traceCounts(join(dataDir, 'mxward.db')),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      // serve finishes transactions in flight, then exits; the profile is written at exit.
      await Promise.race([exited, sleep(20_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

/** What mxward's trace says was accepted (and queued) and refused with 5.7.68: the server's own count. */
export function traceCounts(file: string): ServerCounts {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const one = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
    return {
      accepted: one("SELECT count(*) AS n FROM trace WHERE verdict = 'accept' AND queue_id IS NOT NULL"),
      rejected: one("SELECT count(*) AS n FROM trace WHERE verdict = 'reject' AND json_extract(record, '$.reply') LIKE '550 5.7.68 %'"),
    };
  } finally {
    db.close();
  }
}
