// `node bench/console/run.ts [--quick] [--rounds N] [--seed N] [--rate N] [--mix both|dashboard|trace]
//    [--nice-workers] [--profile] [--keep]`
// (also `npm run bench -- --console-load`)
//
// Issue 13: the SMTP path must not notice the console. One mxward with its admin API and console
// on a loopback HTTPS port; the trace seeded with thousands of transactions from a few hundred
// sources (seed.ts, report mode: accepted mail, Direct Send of both kinds, a connector); then the
// gateway bench's accept and reject scenarios (gateway/scenarios.ts, run and checked by
// gateway/turn.ts with smtp-source) in turns without and with a second client process making
// --rate requests a second of dashboard and trace queries (load-client.ts), interleaved A B, B A
// over the rounds so drift on a shared machine falls on both. Prints messages/s, the ratio
// with/without, server CPU per 1,000 messages split by thread (threads.ts), and the API's latency
// and errors. Diagnostics: --mix narrows the load to one kind of request, --nice-workers adds a
// third arm, the load with the gateway's worker threads at nice 19, --profile writes and summarises CPU profiles
// of every gateway thread (node --cpu-prof). Loopback only;
// every process it starts is stopped and the temporary directory removed (kept with --keep).
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fullScenarios, quickScenarios } from '../gateway/scenarios.ts';
import type { Scenario } from '../gateway/scenarios.ts';
import { startSink } from '../gateway/sink.ts';
import type { Sink } from '../gateway/sink.ts';
import { runTurn } from '../gateway/turn.ts';
import { createLoadToken, startConsoleGateway } from './gateway.ts';
import type { ConsoleGateway } from './gateway.ts';
import { startLoad } from './load.ts';
import type { RunningLoad } from './load.ts';
import { renderReport } from './report.ts';
import type { Arm, ConsoleTurn } from './report.ts';
import { seededIps, seedTrace } from './seed.ts';
import { compareWindows, monotonicMicros, profileInWindows } from './profile-windows.ts';
import type { Window } from './profile-windows.ts';
import { diffCpu, niceWorkerThreads, threadCpu } from './threads.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seed: { type: 'string' },
    rate: { type: 'string', default: '20' },
    profile: { type: 'boolean', default: false },
    mix: { type: 'string', default: 'both' },
    'nice-workers': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const quick = values.quick!;
const rounds = Number(values.rounds ?? (quick ? 2 : 4));
const seedCount = Number(values.seed ?? (quick ? 2000 : 5000));
const rate = Number(values.rate);
for (const [flag, n] of [['--rounds', rounds], ['--seed', seedCount], ['--rate', rate]] as const) {
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`${flag}: expected a positive number\n`);
    process.exit(2);
  }
}
const mix = values.mix as 'both' | 'dashboard' | 'trace';
if (!['both', 'dashboard', 'trace'].includes(mix)) {
  process.stderr.write('--mix: expected both, dashboard or trace\n');
  process.exit(2);
}
/** --nice-workers adds a third arm: the load with the gateway's worker threads at nice 19. */
const arms: Arm[] = ['no load', 'API load', ...(values['nice-workers'] ? ['API load, workers niced' as const] : [])];
/** The gateway bench's own scenarios: 20 sessions, 1 KB, accept path and Direct Send refused. */
const WANTED = ['accept 20s 1KB', 'reject 20s 1KB'];
const scenarios: Scenario[] = (quick ? quickScenarios() : fullScenarios()).filter((s) => WANTED.includes(s.id));
const log = (line: string) => process.stderr.write(`${line}\n`);
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { interrupted = true; log(`${signal}: stopping after the current turn`); });
}

if (process.getuid?.() !== 0) {
  process.stderr.write('run as root: smtp-sink drops to user nobody (as npm run bench does)\n');
  process.exit(2);
}
const root = await mkdtemp(join(tmpdir(), 'mxward-console-bench-'));
await chmod(root, 0o755);
const started = Date.now();
const uptimeBefore = uptime();
let sink: Sink | null = null;
let gw: ConsoleGateway | null = null;
let load: RunningLoad | null = null;
const profileDir = join(root, 'profiles');
/** Turn times (monotonic µs) with and without the API load, to cut the profiles by. */
const windows: { loaded: Window[]; quiet: Window[] } = { loaded: [], quiet: [] };
try {
  sink = await startSink('nobody');
  await mkdir(join(root, 'mxward'));
  gw = await startConsoleGateway({
    dir: join(root, 'mxward'), sinkPort: sink.port,
    nodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  log(`mxward: SMTP 127.0.0.1:${gw.port}, console ${gw.consoleUrl}, sink ${sink.port}; ${uptimeBefore}`);
  const seeded = await seedTrace(gw.port, seedCount);
  log(`seeded ${seeded.sent} transactions from ${seeded.sources} sources in ${(seeded.elapsedMs / 1000).toFixed(1)} s` +
    `${seeded.failed ? `; ${seeded.failed} failed, e.g. ${seeded.failures[0]}` : ''}`);
  if (seeded.failed > seedCount * 0.01) throw new Error(`seeding: ${seeded.failed} of ${seedCount} transactions failed: ${seeded.failures.join('; ')}`);
  // The measured reject scenario is the gateway bench's: Direct Send refused with 550 5.7.68.
  log((await gw.cli('org', 'set', '--reject-direct-send', 'enforce', '--wait')).trim());
  const token = await createLoadToken(gw);
  const caFile = join(root, 'console-ca.pem');
  await writeFile(caFile, gw.ca);
  const loadOptions = { url: gw.consoleUrl, caFile, token, rate, ips: seededIps(), maxSeconds: 600, mix };
  const pid = gw.pids()[0];

  // Warm-up, not measured: JIT, the relay connections, the first dashboard on a worker.
  for (const s of scenarios) await runTurn(gw, sink, { ...s, messages: 300 });
  load = await startLoad(loadOptions);
  await runTurn(gw, sink, { ...scenarios[0], messages: 300 });
  await load.finish();
  load = null;
  log(`gateway threads after warm-up: ${JSON.stringify(threadCpu(pid))} CPU s (main = MainThread, workers = WorkerThread*)`);

  const turns: ConsoleTurn[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const s of scenarios) {
      // A B (C), then (C) B A: drift over the run falls on every arm alike.
      const order = round % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) {
        if (interrupted) throw new Error('interrupted');
        load = arm === 'no load' ? null : await startLoad(loadOptions);
        // After the load client's first requests, which start the pool's threads if they had ended.
        if (load && values['nice-workers']) niceWorkerThreads(pid, arm === 'API load' ? 0 : 19);
        const threadsBefore = threadCpu(pid);
        const from = monotonicMicros();
        const t = await runTurn(gw, sink, s);
        windows[arm === 'no load' ? 'quiet' : 'loaded'].push([from, monotonicMicros()]);
        const threads = diffCpu(threadCpu(pid), threadsBefore);
        const api = load ? await load.finish() : null;
        load = null;
        turns.push({ scenario: s.id, arm, round, rate: t.rate, cpuPer1000: t.cpuPer1000, threads, messages: s.messages, problems: t.problems, api });
        log(`${s.id.padEnd(15)} ${arm.padEnd(23)} ${t.rate.toFixed(0).padStart(6)} msg/s  cpu ${t.cpuPer1000.toFixed(2)} s/1k (main ${threads.main.toFixed(2)} s, workers ${threads.workers.toFixed(2)} s)` +
          `${api ? `  API ${(api.requests / api.seconds).toFixed(1)} req/s, p50 ${api.all.p50Ms.toFixed(0)} ms, p99 ${api.all.p99Ms.toFixed(0)} ms, ${api.busy} busy, ${api.errors} errors` : ''}` +
          `${t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''}`);
      }
    }
  }
  const cpu = cpus();
  const header = `mxward console under load, ${new Date().toISOString().slice(0, 10)}: ${cpu.length} × ${cpu[0]?.model ?? '?'}, Linux ${release()}, ` +
    `Node ${process.version}; trace seeded with ${seeded.sent} transactions from ${seeded.sources} sources; ${rounds} round(s), ` +
    `load ${rate} requests/s (${mix}); ${Math.round((Date.now() - started) / 1000)} s\nuptime before: ${uptimeBefore}\nuptime after:  ${uptime()}`;
  const { text, ok } = renderReport(header, turns, rate);
  console.log(text);
  await writeFile(join(root, 'results.json'), JSON.stringify(turns, null, 2));
  process.exitCode = ok ? 0 : 1;
} finally {
  load?.kill();
  await gw?.stop().catch((err) => log(`stopping mxward: ${(err as Error).message}`));
  await sink?.stop();
  if (values.profile) {
    const files = await readdir(profileDir).catch(() => [] as string[]);
    for (const f of files.filter((n) => n.endsWith('.cpuprofile')).sort()) {
      const file = join(profileDir, f);
      console.log(['', ...compareWindows(`gateway thread profile ${f}`, profileInWindows(file, windows.loaded), profileInWindows(file, windows.quiet))].join('\n'));
    }
  }
  if (values.keep) log(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
}
