// The auth-on set of issue 6: what SPF, DKIM verification and DMARC cost mxward, measured against
// mxward itself with authentication off (the peers do none, so they are not in this set).
//
// A Knot DNS server on loopback serves the sender domain (SPF covering 127.0.0.1, the DKIM key,
// DMARC p=reject); the same pre-signed messages go to three mxward instances in turns: auth off,
// auth on (its resolver cache as configured by default), and auth on with every DNS answer
// expiring at once (each message asks Knot again: the cost when nothing is cached). Each turn is
// checked: every message got 250, the sink received them all, and the trace shows compauth=pass
// with spf, dkim and dmarc pass for every one of them (auth off: no auth results at all).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startDnsServer } from '../../test/helpers/dns-server.ts';
import type { TestDnsServer } from '../../test/helpers/dns-server.ts';
import { AUTH_FROM, senderKeys, signedCorpus } from './auth-corpus.ts';
import { mxwardDatabase, startMxward } from './mxward.ts';
import type { Peer } from './peer.ts';
import { sampleRss, treeCpuSeconds } from './procs.ts';
import { RECIPIENT } from './scenarios.ts';
import { startSink } from './sink.ts';
import type { Sink } from './sink.ts';
import { drive } from './smtp-driver.ts';
import { sleep } from './net.ts';
import { median, ratio } from './stats.ts';

const KB = 1024;
const TURN_TIMEOUT_MS = 180_000;

export const AUTH_VARIANTS = ['auth off', 'auth on', 'auth on, no DNS cache'] as const;
type Variant = typeof AUTH_VARIANTS[number];

interface AuthScenario { id: string; sessions: number; sizeBytes: number; messages: number }

export function authScenarios(quick: boolean): AuthScenario[] {
  const scale = quick ? 0.5 : 1;
  return [
    { id: 'accept 1s 1KB', sessions: 1, sizeBytes: KB, messages: 150 * scale },
    { id: 'accept 20s 1KB', sessions: 20, sizeBytes: KB, messages: 2000 * scale },
    { id: 'accept 20s 50KB', sessions: 20, sizeBytes: 50 * KB, messages: 800 * scale },
  ];
}

export interface AuthTurn {
  variant: Variant;
  scenario: string;
  rate: number;
  cpuPer1000: number;
  peakRssBytes: number;
  /** CPU of the bench process (the driver) per 1,000 messages, and as a share of one core. */
  driverCpuPer1000: number;
  driverCores: number;
  problems: string[];
}

interface Instance { variant: Variant; peer: Peer; sink: Sink; db: string }

/** Trace rows so far: accepted and queued, and of those how many carry a full pass (or no auth at all). */
function traceCounts(db: string): { accepted: number; passed: number; noAuth: number } {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    d.exec('PRAGMA busy_timeout = 5000');
    const row = d.prepare(`SELECT count(*) AS accepted,
        sum(json_extract(record, '$.auth.compauth.result') = 'pass' AND json_extract(record, '$.auth.compauth.reason') = '100'
          AND json_extract(record, '$.auth.spf.result') = 'pass' AND json_extract(record, '$.auth.dmarc.result') = 'pass'
          AND json_extract(record, '$.auth.dkim[0].result') = 'pass') AS passed,
        sum(json_extract(record, '$.auth') IS NULL) AS noAuth
      FROM trace WHERE verdict = 'accept' AND queue_id IS NOT NULL`).get() as Record<string, number | null>;
    return { accepted: Number(row.accepted ?? 0), passed: Number(row.passed ?? 0), noAuth: Number(row.noAuth ?? 0) };
  } finally {
    d.close();
  }
}

async function runAuthTurn(inst: Instance, s: AuthScenario, messages: Buffer[]): Promise<AuthTurn> {
  const problems: string[] = [];
  const sinkBefore = inst.sink.received();
  const before = traceCounts(inst.db);
  const cpuBefore = treeCpuSeconds(inst.peer.pids());
  const rss = sampleRss(() => inst.peer.pids());
  const r = await drive({ port: inst.peer.port, sessions: s.sessions, messages, from: AUTH_FROM, to: RECIPIENT, timeoutMs: TURN_TIMEOUT_MS });
  const drained = await inst.sink.waitFor(sinkBefore + r.accepted, TURN_TIMEOUT_MS);
  const cpuSeconds = treeCpuSeconds(inst.peer.pids()) - cpuBefore;
  const peakRssBytes = rss.stop();
  if (r.timedOut) problems.push(`driver timed out after ${TURN_TIMEOUT_MS / 1000} s`);
  if (r.problemCount > 0) problems.push(`${r.problemCount} client-side errors, e.g. ${r.problems[0]}`);
  if (r.accepted !== messages.length) problems.push(`${r.accepted} of ${messages.length} messages accepted`);
  await sleep(150); // a duplicate delivery would show up here
  const delivered = inst.sink.received() - sinkBefore;
  if (!drained || delivered !== r.accepted) problems.push(`sink received ${delivered}, accepted ${r.accepted}`);
  const after = traceCounts(inst.db);
  const traced = after.accepted - before.accepted;
  if (traced !== messages.length) problems.push(`trace records ${traced} accepted, expected ${messages.length}`);
  if (inst.variant === 'auth off') {
    if (after.noAuth - before.noAuth !== traced) problems.push(`${traced - (after.noAuth - before.noAuth)} accepted with auth results while auth is off`);
  } else if (after.passed - before.passed !== messages.length) {
    problems.push(`compauth=pass (spf, dkim, dmarc pass) on ${after.passed - before.passed} of ${messages.length}`);
  }
  const n = messages.length;
  return {
    variant: inst.variant, scenario: s.id, rate: (n / r.elapsedMs) * 1000, cpuPer1000: (cpuSeconds / n) * 1000, peakRssBytes,
    driverCpuPer1000: (r.driverCpuMs / n), driverCores: r.driverCpuMs / r.elapsedMs, problems,
  };
}

function render(turns: AuthTurn[]): string {
  const out = [
    '| scenario | mxward | msg/s | vs auth off | CPU s/1k | extra CPU ms/msg | peak RSS MB | driver CPU s/1k | driver cores |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of [...new Set(turns.map((t) => t.scenario))]) {
    const med = (v: Variant, f: (t: AuthTurn) => number) => median(turns.filter((t) => t.scenario === scenario && t.variant === v).map(f));
    for (const v of AUTH_VARIANTS) {
      const rate = med(v, (t) => t.rate);
      if (!Number.isFinite(rate)) continue;
      const cpu = med(v, (t) => t.cpuPer1000);
      const vsOff = ratio(rate, med('auth off', (t) => t.rate));
      const extra = cpu - med('auth off', (t) => t.cpuPer1000);
      out.push(`| ${scenario} | ${v} | ${rate.toFixed(0)} | ${v === 'auth off' ? '' : `${vsOff.toFixed(2)}×`} | ${cpu.toFixed(2)} | ${v === 'auth off' ? '' : extra.toFixed(2)} | ` +
        `${med(v, (t) => t.peakRssBytes / 2 ** 20).toFixed(0)} | ${med(v, (t) => t.driverCpuPer1000).toFixed(2)} | ${med(v, (t) => t.driverCores).toFixed(2)} |`);
    }
  }
  return out.join('\n');
}

export interface AuthSetResult { turns: AuthTurn[]; table: string; problems: string[] }

export async function runAuthSet(o: { root: string; rounds: number; quick: boolean; sinkUser: string; log: (line: string) => void; interrupted: () => boolean }): Promise<AuthSetResult> {
  const scenarios = authScenarios(o.quick);
  const keys = senderKeys();
  const corpusStarted = Date.now();
  const corpus = new Map<number, Buffer[]>();
  for (const size of new Set(scenarios.map((s) => s.sizeBytes))) {
    const count = Math.max(...scenarios.filter((s) => s.sizeBytes === size).map((s) => s.messages));
    corpus.set(size, await signedCorpus(keys, count, size));
  }
  o.log(`auth set: ${[...corpus.values()].reduce((a, c) => a + c.length, 0)} messages DKIM-signed in ${((Date.now() - corpusStarted) / 1000).toFixed(1)} s`);
  let dns: TestDnsServer | null = null;
  const instances: Instance[] = [];
  try {
    dns = await startDnsServer(keys.zone);
    for (const variant of AUTH_VARIANTS) {
      const sink = await startSink(o.sinkUser);
      const dir = join(o.root, `mxward-${variant.replace(/\W+/g, '-')}`);
      await mkdir(dir, { recursive: true });
      const auth = variant === 'auth off' ? undefined : { dnsServer: dns.address, noDnsCache: variant !== 'auth on' };
      const peer = await startMxward({ dir, sinkPort: sink.port, maxSessions: 200, auth });
      instances.push({ variant, peer, sink, db: mxwardDatabase(dir) });
      o.log(`${variant}: mxward on 127.0.0.1:${peer.port}, sink on ${sink.port}, DNS ${dns.address}`);
    }
    // Warm-up, not measured (JIT, relay connections, the resolver's first answers); checked all the same.
    const warm = corpus.get(KB)!.slice(0, 200);
    const turns: AuthTurn[] = [];
    const problems: string[] = [];
    for (const inst of instances) {
      const t = await runAuthTurn(inst, { id: 'warm-up', sessions: 20, sizeBytes: KB, messages: warm.length }, warm);
      problems.push(...t.problems.map((p) => `warm-up ${inst.variant}: ${p}`));
    }
    for (const s of scenarios) {
      const messages = corpus.get(s.sizeBytes)!.slice(0, s.messages);
      for (let round = 0; round < o.rounds; round++) {
        for (const inst of round % 2 === 0 ? instances : [...instances].reverse()) {
          if (o.interrupted()) throw new Error('interrupted');
          const t = await runAuthTurn(inst, s, messages);
          turns.push(t);
          problems.push(...t.problems.map((p) => `${s.id} ${inst.variant}: ${p}`));
          o.log(`${s.id.padEnd(16)} ${inst.variant.padEnd(22)} ${t.rate.toFixed(0).padStart(6)} msg/s  cpu ${t.cpuPer1000.toFixed(2)} s/1k  rss ${(t.peakRssBytes / 2 ** 20).toFixed(0)} MB  driver ${t.driverCores.toFixed(2)} cores${t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''}`);
        }
      }
    }
    return { turns, table: render(turns), problems };
  } finally {
    for (const inst of instances) {
      await inst.peer.stop().catch((err) => o.log(`stopping mxward (${inst.variant}): ${(err as Error).message}`));
      await inst.sink.stop();
    }
    await dns?.close();
  }
}
