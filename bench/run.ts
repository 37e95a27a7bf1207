// `npm run bench [-- --quick] [--rounds N] [--peers mxward,postfix,haraka] [--no-idle] [--keep]
//   [--auth | --no-auth | --auth-only | --auth-peer-only] [--postfix-frontend | --postfix-frontend-only]`
//
// Side-by-side benchmark of issue 6: Postfix (Debian), Haraka (npm, installed into a temporary
// directory) and mxward, each relaying to its own smtp-sink, driven by smtp-source in turns
// (A B C, A B C, ...). Prints a Markdown table of medians and the targets met. Everything runs on
// loopback in one temporary directory that is removed at the end (kept with --keep).
// The auth-on set (mxward with SPF/DKIM/DMARC against a loopback Knot DNS server, compared with
// mxward with authentication off; gateway/auth-set.ts) runs after it in the full run, with --auth
// in a quick run, alone with --auth-only. With it runs the honest-peer auth set of issue 17
// (gateway/auth-peer-set.ts: mxward with its default authentication against Postfix with
// policyd-spf, OpenDKIM and OpenDMARC), alone with --auth-peer-only. The Postfix front-end set (issue 15: plain Postfix against
// Postfix consulting mxward policyd, and policyd plus milter; bench/postfix-frontend/run.ts) runs
// last in the full run, with --postfix-frontend in a quick run, alone with --postfix-frontend-only.
// --console-load runs only the console-under-load set of issue 13 (bench/console/run.ts: the SMTP
// accept and reject rates without and with a second client loading the admin API), in its own process.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAuthPeerSet, peerTargets } from './gateway/auth-peer-set.ts';
import type { PeerSetResult } from './gateway/auth-peer-set.ts';
import { runAuthSet } from './gateway/auth-set.ts';
import { ensureDebianPackages } from './gateway/debian.ts';
import type { AuthSetResult } from './gateway/auth-set.ts';
import { harakaVersion, installHaraka, startHaraka } from './gateway/haraka.ts';
import { runIdle } from './gateway/idle.ts';
import type { IdleResult } from './gateway/idle.ts';
import { startMxward } from './gateway/mxward.ts';
import type { Peer, PeerName } from './gateway/peer.ts';
import { startPostfix } from './gateway/postfix.ts';
import { fullScenarios, quickScenarios, warmUpScenarios } from './gateway/scenarios.ts';
import type { Scenario } from './gateway/scenarios.ts';
import { startSink } from './gateway/sink.ts';
import type { Sink } from './gateway/sink.ts';
import { checkAuthOffTargets, checkTargets, renderDriverCpu, renderIdle, renderTable, summarize } from './gateway/table.ts';
import { runTurn } from './gateway/turn.ts';
import { settle } from './gateway/settle.ts';
import type { TurnResult } from './gateway/turn.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    peers: { type: 'string', default: 'mxward,postfix,haraka' },
    'no-idle': { type: 'boolean', default: false },
    idle: { type: 'string' },
    keep: { type: 'boolean', default: false },
    auth: { type: 'boolean' },
    'no-auth': { type: 'boolean', default: false },
    'auth-only': { type: 'boolean', default: false },
    'auth-peer-only': { type: 'boolean', default: false },
    'postfix-frontend': { type: 'boolean' },
    'postfix-frontend-only': { type: 'boolean', default: false },
    'console-load': { type: 'boolean', default: false },
    /** mxward's `workers:` (N or auto); absent = its default. */
    'mxward-workers': { type: 'string' },
  },
});
const w = values['mxward-workers'];
const mxwardWorkers = w === undefined ? undefined : w === 'auto' ? 'auto' as const : Number(w);
const quick = values.quick!;
const frontendOnly = values['postfix-frontend-only']!;
// --auth-only and --auth-peer-only run their sets alone, in a full run too.
const withFrontend = frontendOnly || (values['postfix-frontend'] ?? (!quick && !values['auth-only'] && !values['auth-peer-only']));

/** The Postfix front-end set, in its own process (it starts its own Postfix instances and sink). */
function runPostfixFrontendSet(): number {
  try {
    execFileSync(process.execPath, [join(import.meta.dirname, 'postfix-frontend', 'run.ts'), '--rounds', String(quick ? 1 : 2)], { stdio: 'inherit' });
    return 0;
  } catch {
    return 1;
  }
}
if (frontendOnly) process.exit(runPostfixFrontendSet());
if (values['console-load']) {
  try {
    execFileSync(process.execPath, [join(import.meta.dirname, 'console', 'run.ts'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
    process.exit(0);
  } catch {
    process.exit(1);
  }
}
const rounds = Number(values.rounds ?? (quick ? 1 : 3));
const idleSessions = Number(values.idle ?? (quick ? 300 : 1000));
const authPeerOnly = values['auth-peer-only']!;
const authOnly = values['auth-only']! || authPeerOnly;
const withAuth = authOnly || (values.auth ?? !quick) && !values['no-auth'];
const peerNames = authOnly ? [] : values.peers!.split(',').map((p) => p.trim()) as PeerName[];
const scenarios: Scenario[] = quick ? quickScenarios() : fullScenarios();
const SINK_USER = 'nobody';

function need(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    throw new Error(`${cmd} is needed (Debian package postfix provides postfix, smtp-source and smtp-sink): ${(err as Error).message}`);
  }
}

if (process.getuid?.() !== 0) throw new Error('the bench starts a private Postfix instance, which needs root');
ensureDebianPackages(['postfix', ...(withAuth ? ['knot', 'knot-dnsutils', 'postfix-policyd-spf-python', 'opendkim', 'opendmarc', 'publicsuffix'] : [])], (line) => process.stderr.write(`${line}\n`));
const postfixVersion = need('postconf', ['-d', '-h', 'mail_version']);
need('sh', ['-c', 'command -v smtp-source && command -v smtp-sink']);
const log = (line: string) => process.stderr.write(`${line}\n`);
// Ctrl-C stops after the current turn, so the peers are always stopped and the directory removed.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { interrupted = true; log(`${signal}: stopping after the current turn`); });
}
function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

const root = await mkdtemp(join(tmpdir(), 'mxward-bench-'));
await chmod(root, 0o755); // Postfix's unprivileged daemons must reach their queue below it
const started = Date.now();
const peers: Peer[] = [];
const sinks = new Map<string, Sink>();
try {
  let harakaBin = '';
  if (peerNames.includes('haraka')) {
    log('installing Haraka from npm into the temporary directory...');
    harakaBin = await installHaraka(join(root, 'haraka-install'));
  }
  const maxSessions = Math.max(idleSessions, 100) + 50;
  const startPeer = async (name: PeerName, dirName: string): Promise<Peer> => {
    let sink = sinks.get(name);
    if (!sink) {
      sink = await startSink(SINK_USER);
      sinks.set(name, sink);
    }
    const dir = join(root, dirName);
    await mkdir(dir, { recursive: true });
    const options = { dir, sinkPort: sink.port, maxSessions };
    const peer = name === 'postfix' ? await startPostfix(options)
      : name === 'haraka' ? await startHaraka({ ...options, bin: harakaBin })
        : await startMxward({ ...options, workers: mxwardWorkers });
    peers.push(peer);
    log(`${name} listening on 127.0.0.1:${peer.port}, sink on ${sink.port}`);
    return peer;
  };
  for (const name of peerNames) await startPeer(name, name);

  const warmUpProblems: string[] = [];
  // Warm-up, not measured but checked and logged (the cold numbers): every path, until steady.
  for (const peer of peers) {
    for (const s of warmUpScenarios()) {
      checkInterrupted();
      const t = await runTurn(peer, sinks.get(peer.name)!, s);
      log(`${s.id.padEnd(26)} ${peer.name.padEnd(8)} ${t.rate.toFixed(0).padStart(6)} msg/s  cpu ${t.cpuPer1000.toFixed(2)} s/1k (cold, not in the tables)${t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''}`);
      if (t.problems.length) warmUpProblems.push(...t.problems.map((p) => `${s.id} ${peer.name}: ${p}`));
    }
  }

  const turns: TurnResult[] = [];
  for (const s of scenarios) {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? peers : [...peers].reverse(); // A B C, C B A, ...
      for (const peer of order) {
        checkInterrupted();
        const quiet = await settle(() => peers.flatMap((p) => p.pids()));
        if (!quiet.idle) log(`${s.id} ${peer.name}: the peers were still busy after ${(quiet.waitedMs / 1000).toFixed(1)} s; measuring anyway`);
        else if (quiet.waitedMs > 1000) log(`${s.id} ${peer.name}: waited ${(quiet.waitedMs / 1000).toFixed(1)} s for the peers to be idle`);
        const t = await runTurn(peer, sinks.get(peer.name)!, s);
        turns.push(t);
        log(`${s.id.padEnd(18)} ${peer.name.padEnd(8)} ${t.rate.toFixed(0).padStart(6)} msg/s  cpu ${t.cpuPer1000.toFixed(2)} s/1k  smtp-source cpu ${t.driverCpuPer1000.toFixed(2)} s/1k  rss ${(t.peakRssBytes / 2 ** 20).toFixed(0)} MB  drain ${(t.drainMs / 1000).toFixed(1)} s${t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''}`);
      }
    }
  }

  // Idle sessions last, on freshly started servers: the memory that held sessions cost, not the
  // heap a load scenario left behind (peak RSS under load is in the table), and no leftover
  // Postfix processes from the idle run disturbing the load scenarios.
  const idle: IdleResult[] = [];
  if (!values['no-idle'] && !authOnly) {
    for (const name of peerNames) {
      checkInterrupted();
      const old = peers.find((p) => p.name === name)!;
      await old.stop();
      peers.splice(peers.indexOf(old), 1);
      const peer = await startPeer(name, `${name}-idle`);
      const r = await runIdle(peer, idleSessions);
      idle.push(r);
      await peer.stop();
      peers.splice(peers.indexOf(peer), 1);
      log(`idle ${idleSessions} ${peer.name}: RSS ${(r.rssBytes / 2 ** 20).toFixed(0)} MB, banner median ${r.bannerMedianMs.toFixed(1)} ms max ${r.bannerMaxMs.toFixed(1)} ms${r.problems.length ? `  PROBLEMS: ${r.problems.join('; ')}` : ''}`);
    }
  }

  let authSet: AuthSetResult | null = null;
  let peerSet: PeerSetResult | null = null;
  if (withAuth) {
    checkInterrupted();
    // The peers are done: stop them so the auth set has the machine to itself.
    for (const peer of peers.splice(0)) await peer.stop();
    if (!authPeerOnly) authSet = await runAuthSet({ root, rounds, quick, sinkUser: SINK_USER, log, interrupted: () => interrupted });
    checkInterrupted();
    peerSet = await runAuthPeerSet({ root, rounds, quick, sinkUser: SINK_USER, log, interrupted: () => interrupted, workers: mxwardWorkers });
  }

  const rows = summarize(turns);
  const cpu = cpus();
  const out: string[] = [];
  out.push(`mxward gateway benchmark, ${new Date().toISOString().slice(0, 10)}: ${cpu.length} × ${cpu[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}, ` +
    `Postfix ${postfixVersion}${harakaBin ? `, Haraka ${await harakaVersion(join(root, 'haraka-install'))}` : ''}; ` +
    `${quick ? 'quick subset' : 'full run'}, ${rounds} turn(s) per peer and scenario, medians; ${Math.round((Date.now() - started) / 1000)} s`);
  out.push('');
  if (rows.length) out.push(renderTable(rows), '', renderDriverCpu(rows));
  if (idle.length) out.push('', renderIdle(idle));
  if (rows.length) {
    out.push('', 'Targets (issue 6):');
    for (const t of checkTargets(rows, idle)) out.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target}: ${t.detail}`);
    out.push('', 'Targets (issue 17, authentication off):');
    for (const t of checkAuthOffTargets(rows)) out.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target}: ${t.detail}`);
  }
  if (authSet) {
    out.push('', 'Email authentication (SPF, DKIM verification, DMARC p=reject) against a loopback Knot DNS server, mxward against itself;',
      'DKIM-signed messages sent by the bench\'s own driver over pooled sessions (not smtp-source: not comparable with the table above):', '', authSet.table);
  }
  if (peerSet) {
    out.push('', `Authentication on, the honest peer (issue 17): mxward with its defaults (SPF, DKIM, DMARC, ARC${mxwardWorkers === undefined ? '' : `; workers: ${mxwardWorkers}`}) against Postfix with`,
      'policyd-spf, OpenDKIM and OpenDMARC (verify only), both asking one Knot server on loopback port 53 and relaying to one smtp-sink;',
      'DKIM-signed messages from the bench\'s driver; "dmarc reject" = forged messages (p=reject, SPF softfail, broken signature):', '', peerSet.table,
      '', 'Targets (issue 17, authentication on):');
    for (const t of peerTargets(peerSet.turns)) out.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target}: ${t.detail}`);
  }
  const problems = [...warmUpProblems, ...(authSet?.problems ?? []), ...(peerSet?.problems ?? []), ...turns.filter((t) => t.problems.length > 0).map((t) => `${t.scenario} ${t.peer}: ${t.problems.join('; ')}`),
    ...idle.filter((r) => r.problems.length > 0).map((r) => `idle ${r.peer}: ${r.problems.join('; ')}`)];
  out.push('', problems.length ? `Correctness problems (${problems.length}):\n  ${problems.join('\n  ')}` : `Correctness: every turn checked (${[
    ...(rows.length ? ['5.7.68 on every Direct Send, sink count = accepted count, server records agree'] : []),
    ...(authSet ? ['auth set: 250 for every signed message, sink count = accepted, trace compauth=pass with spf, dkim, dmarc pass'] : []),
    ...(peerSet ? ['honest peer: every signed message delivered with spf, dkim and dmarc pass in each gateway\'s own header fields and the same results from both, every forged message refused by both'] : []),
  ].join('; ')}).`);
  console.log(out.join('\n'));
  await writeFile(join(root, 'results.json'), JSON.stringify({ turns, idle, rows, auth: authSet?.turns ?? [], authPeer: peerSet?.turns ?? [] }, null, 2));
  if (values.keep) log(`kept ${root}`);
  process.exitCode = problems.length > 0 ? 1 : 0;
  if (withFrontend) {
    for (const peer of peers.splice(0)) await peer.stop();
    if (runPostfixFrontendSet() !== 0) process.exitCode = 1;
  }
} finally {
  for (const peer of peers) await peer.stop().catch((err) => log(`stopping ${peer.name}: ${(err as Error).message}`));
  for (const sink of sinks.values()) await sink.stop();
  if (!values.keep) await rm(root, { recursive: true, force: true });
}
