// `node bench/postfix-frontend/run.ts [--rounds N] [--keep]` (issue 15): what it costs a Postfix
// to consult mxward. Three Postfix instances relay to the same smtp-sink, driven by smtp-source in
// turns (A B C, A B C, …): plain Postfix refusing Direct Send with its own sender_access table,
// Postfix with `check_policy_service` (mxward policyd), and Postfix with the policy service and
// the milter (`mxward milter --policy-listen`, one process). Measured per scenario: messages per
// second and CPU seconds per 1,000 messages of Postfix's process tree plus mxward's. Authentication
// is off on both sides (Postfix does none); every turn checks that each Direct Send got 550 5.7.68
// and the sink got every accepted message, through bench/gateway/turn.ts.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { postfixMainBase } from '../../test/helpers/postfix.ts';
import { freePort, waitForPort, waitForPortClosed } from '../gateway/net.ts';
import { postfixLogCounts, startRelayingPostfix } from '../gateway/postfix.ts';
import type { Peer, PeerName } from '../gateway/peer.ts';
import { ACCEPTED_DOMAIN, DIRECT_SEND_TEXT } from '../gateway/peer.ts';
import { quickScenarios } from '../gateway/scenarios.ts';
import { startSink } from '../gateway/sink.ts';
import { median } from '../gateway/stats.ts';
import { runTurn } from '../gateway/turn.ts';
import type { TurnResult } from '../gateway/turn.ts';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'mxward.js');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, keep: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);

type Variant = 'postfix' | 'postfix+policyd' | 'postfix+policyd+milter';
const VARIANTS: Variant[] = ['postfix', 'postfix+policyd', 'postfix+policyd+milter'];

interface Mxward { child: ChildProcess; milterPort: number; policyPort: number; stop(): Promise<void> }

/** `mxward milter --policy-listen` (or `policyd`) as a child process with its own store. */
async function startMxward(dir: string, withMilter: boolean): Promise<Mxward> {
  const dataDir = join(dir, 'mxward');
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, '--data-dir', dataDir]);
  await writeFile(join(dir, 'mxward.yaml'), 'hostname: mxward.bench.test\nlogLevel: warn\nauth: { enabled: false }\n');
  await cli('init');
  await cli('domain', 'add', ACCEPTED_DOMAIN);
  await cli('org', 'set', '--reject-direct-send', 'enforce', '--reject-direct-send-header-from', 'off');
  const [milterPort, policyPort] = [await freePort(), await freePort()];
  const args = withMilter
    ? ['milter', '--listen', `127.0.0.1:${milterPort}`, '--policy-listen', `127.0.0.1:${policyPort}`]
    : ['policyd', '--listen', `127.0.0.1:${policyPort}`];
  const child = spawn(process.execPath, [CLI, ...args, '--data-dir', dataDir, '--config', join(dir, 'mxward.yaml')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(policyPort);
  return {
    child, milterPort, policyPort,
    async stop() { const exited = new Promise((r) => child.once('exit', r)); child.kill('SIGTERM'); await exited; },
  };
}

async function startVariant(variant: Variant, dir: string, sinkPort: number): Promise<Peer> {
  await chmod(dir, 0o755);
  const mx = variant === 'postfix' ? null : await startMxward(dir, variant === 'postfix+policyd+milter');
  const port = await freePort();
  await writeFile(join(dir, 'sender_access'), `${ACCEPTED_DOMAIN} 550 5.7.68 ${DIRECT_SEND_TEXT}\n`);
  const main = [
    ...postfixMainBase(dir, 'postfix.bench.test'),
    'mynetworks = 192.0.2.10/32',
    `relay_domains = ${ACCEPTED_DOMAIN}`,
    `relay_transport = smtp:[127.0.0.1]:${sinkPort}`,
    'default_transport = error:not an accepted domain',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    mx ? `smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:${mx.policyPort}`
      : `smtpd_sender_restrictions = check_sender_access texthash:${join(dir, 'sender_access')}`,
    ...(mx && variant === 'postfix+policyd+milter' ? [`smtpd_milters = inet:127.0.0.1:${mx.milterPort}`, 'milter_default_action = tempfail'] : []),
    'smtpd_client_connection_count_limit = 0',
    'smtpd_client_connection_rate_limit = 0',
    'default_process_limit = 200',
    `maillog_file_prefixes = ${dir}`,
    `maillog_file = ${join(dir, 'maillog')}`,
    'smtputf8_enable = no',
    'biff = no',
  ];
  const masterPid = await startRelayingPostfix(dir, port, main);
  return {
    name: variant as unknown as PeerName,
    port,
    pids: () => [masterPid, ...(mx?.child.pid ? [mx.child.pid] : [])],
    counts: () => postfixLogCounts(dir),
    async stop() {
      await run('postfix', ['-c', dir, 'stop']).catch(() => {});
      await waitForPortClosed(port);
      await mx?.stop();
    },
  };
}

function table(turns: TurnResult[]): string {
  const scenarios = [...new Set(turns.map((t) => t.scenario))];
  const lines = ['| scenario | ' + VARIANTS.map((v) => `${v} msg/s | CPU s/1000`).join(' | ') + ' | policyd overhead | policyd+milter overhead |',
    `|---|${VARIANTS.map(() => '---:|---:').join('|')}|---:|---:|`];
  for (const s of scenarios) {
    const by = (v: Variant) => {
      const mine = turns.filter((t) => t.scenario === s && t.peer === v);
      return { rate: median(mine.map((t) => t.rate)), cpu: median(mine.map((t) => t.cpuPer1000)) };
    };
    const cells = VARIANTS.map((v) => { const r = by(v); return `${r.rate.toFixed(0)} | ${r.cpu.toFixed(2)}`; });
    const base = by('postfix');
    const over = (v: Variant) => { const r = by(v); return `${((1 - r.rate / base.rate) * 100).toFixed(0)}% rate, +${(r.cpu - base.cpu).toFixed(2)} CPU s`; };
    lines.push(`| ${s} | ${cells.join(' | ')} | ${over('postfix+policyd')} | ${over('postfix+policyd+milter')} |`);
  }
  return lines.join('\n');
}

if (process.getuid?.() !== 0) throw new Error('the bench starts private Postfix instances, which needs root');
const root = await mkdtemp(join(tmpdir(), 'mxward-bench-frontend-'));
await chmod(root, 0o755); // Postfix's daemons (user postfix) must reach their directories
const sink = await startSink('nobody');
const peers: Peer[] = [];
try {
  for (const v of VARIANTS) {
    const dir = join(root, v.replace(/\+/g, '-'));
    await mkdir(dir, { recursive: true });
    peers.push(await startVariant(v, dir, sink.port));
  }
  const scenarios = quickScenarios().filter((s) => s.sessions === 20 && s.sizeBytes === 1024);
  const turns: TurnResult[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const s of scenarios) {
      for (const peer of peers) {
        const t = await runTurn(peer, sink, s);
        process.stderr.write(`${peer.name} ${s.id}: ${t.rate.toFixed(0)} msg/s, ${t.cpuPer1000.toFixed(2)} CPU s/1000${t.problems.length ? `; PROBLEMS: ${t.problems.join('; ')}` : ''}\n`);
        turns.push(t);
      }
    }
  }
  process.stdout.write(`${table(turns)}\n`);
  if (turns.some((t) => t.problems.length)) process.exitCode = 1;
} finally {
  for (const p of peers) await p.stop().catch(() => {});
  await sink.stop();
  if (!values.keep) await rm(root, { recursive: true, force: true });
}
