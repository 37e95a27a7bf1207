// The honest-peer auth set of issue 17: mxward with its default authentication (SPF, DKIM, DMARC,
// ARC) against Postfix with policyd-spf, OpenDKIM and OpenDMARC (auth-postfix.ts). Both ask the
// same Knot server on loopback (auth-dns.ts) and relay to the same smtp-sink, which keeps every
// message it receives so the results each gateway wrote can be read back.
//
// Per turn: messages/s, CPU per message of the gateway's process tree (Postfix's master and its
// children, policyd-spf included, plus both milters; mxward's one process), and the DNS server's
// CPU per message, shown apart (it is neither gateway's, but a gateway that caches nothing leaves
// more of it). Checked per turn: every signed message got 250 and reached the sink carrying spf,
// dkim and dmarc pass in the gateway's own fields (Authentication-Results, Received-SPF); every
// forged message (p=reject, DMARC fail) was refused at end of DATA and none reached the sink; and,
// over the run, both gateways recorded the same three results for every Message-ID.
import { chmod, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PEER_AUTHSERV_ID, startAuthPostfix } from './auth-postfix.ts';
import type { AuthGateway } from './auth-postfix.ts';
import { AUTH_FROM, FORGED_FROM, senderKeys, signedCorpus } from './auth-corpus.ts';
import { startPortFiftyThreeDns } from './auth-dns.ts';
import type { PortFiftyThreeDns } from './auth-dns.ts';
import { startMxward } from './mxward.ts';
import { sleep } from './net.ts';
import { sampleRss, treeCpuSeconds } from './procs.ts';
import { RECIPIENT } from './scenarios.ts';
import { startSink } from './sink.ts';
import type { Sink } from './sink.ts';
import { drive } from './smtp-driver.ts';
import { median, ratio } from './stats.ts';

const KB = 1024;
const TURN_TIMEOUT_MS = 180_000;
const MXWARD_AUTHSERV_ID = 'mxward.bench.test';

type Side = 'mxward' | 'peer';
interface PeerScenario { id: string; sessions: number; sizeBytes: number; messages: number; forged: boolean }

export function peerScenarios(quick: boolean): PeerScenario[] {
  const scale = quick ? 0.5 : 1;
  return [
    { id: 'accept 20s 1KB', sessions: 20, sizeBytes: KB, messages: 2000 * scale, forged: false },
    { id: 'accept 20s 50KB', sessions: 20, sizeBytes: 50 * KB, messages: 800 * scale, forged: false },
    // 5-7 refusals per session on average: both gateways slow a client down from its 10th error
    // (smtpd_soft_error_limit, mxward's softErrorLimit), and that delay is not what is measured.
    { id: 'dmarc reject 20s 1KB', sessions: 20, sizeBytes: KB, messages: quick ? 100 : 140, forged: true },
  ];
}

export interface PeerTurn {
  side: Side;
  scenario: string;
  rate: number;
  cpuPer1000: number;
  dnsCpuPer1000: number;
  peakRssBytes: number;
  /** The first refusal reply (forged messages). */
  refusal: string | null;
  problems: string[];
}

interface Gateway extends Omit<AuthGateway, 'label'> { side: Side }

/** spf/dkim/dmarc as one gateway recorded them in a delivered message, keyed by Message-ID. */
export function resultsOf(text: string, side: Side): { messageId: string; spf: string; dkim: string; dmarc: string } {
  const head = text.slice(0, Math.max(0, text.indexOf('\n\n')) || text.length).replace(/\r?\n[ \t]+/g, ' ');
  const fields = head.split(/\r?\n/);
  const value = (name: string) => fields.filter((f) => f.toLowerCase().startsWith(`${name}:`)).map((f) => f.slice(name.length + 1).trim());
  const messageId = value('message-id')[0] ?? '';
  const authservId = side === 'mxward' ? MXWARD_AUTHSERV_ID : PEER_AUTHSERV_ID;
  const ours = value('authentication-results').filter((v) => v.toLowerCase().startsWith(`${authservId};`)).join('; ');
  // The first of each: mxward writes the MAIL FROM spf before the HELO one.
  const first = (method: string) => new RegExp(`(?:^|[;\\s])${method}=([a-z]+)`, 'i').exec(ours)?.[1]?.toLowerCase() ?? 'absent';
  const receivedSpf = value('received-spf').find((v) => /identity=mailfrom/i.test(v));
  const spf = side === 'peer' ? (receivedSpf?.split(/\s/)[0]?.toLowerCase() ?? 'absent') : first('spf');
  return { messageId, spf, dkim: first('dkim'), dmarc: first('dmarc') };
}

async function readDelivered(dumpDir: string, side: Side): Promise<Array<ReturnType<typeof resultsOf>>> {
  const out: Array<ReturnType<typeof resultsOf>> = [];
  for (const name of await readdir(dumpDir)) out.push(resultsOf(await readFile(join(dumpDir, name), 'latin1'), side));
  return out;
}

async function emptyDir(dir: string): Promise<void> {
  await Promise.all((await readdir(dir)).map((n) => rm(join(dir, n), { force: true })));
}

interface TurnContext { sink: Sink; dumpDir: string; dns: PortFiftyThreeDns; agreement: Map<string, Map<string, string>> }

async function runPeerTurn(gw: Gateway, s: PeerScenario, messages: Buffer[], ctx: TurnContext): Promise<PeerTurn> {
  const problems: string[] = [];
  await emptyDir(ctx.dumpDir);
  const sinkBefore = ctx.sink.received();
  const cpuBefore = treeCpuSeconds(gw.pids());
  const dnsBefore = treeCpuSeconds([ctx.dns.pid]);
  const rss = sampleRss(() => gw.pids());
  const r = await drive({ port: gw.port, sessions: s.sessions, messages, from: s.forged ? FORGED_FROM : AUTH_FROM, to: RECIPIENT, timeoutMs: TURN_TIMEOUT_MS, expectRefusal: s.forged });
  const expected = s.forged ? 0 : messages.length;
  const drained = await ctx.sink.waitFor(sinkBefore + r.accepted, TURN_TIMEOUT_MS);
  const cpuSeconds = treeCpuSeconds(gw.pids()) - cpuBefore;
  const dnsSeconds = treeCpuSeconds([ctx.dns.pid]) - dnsBefore;
  const peakRssBytes = rss.stop();
  if (r.timedOut) problems.push(`driver timed out after ${TURN_TIMEOUT_MS / 1000} s`);
  if (r.problemCount > 0) problems.push(`${r.problemCount} client-side errors, e.g. ${r.problems[0]}`);
  if (r.accepted !== expected) problems.push(`${r.accepted} of ${messages.length} messages accepted, expected ${expected}`);
  if (s.forged && r.refused !== messages.length) problems.push(`${r.refused} of ${messages.length} forged messages refused`);
  await sleep(150); // a duplicate delivery would show up here
  const delivered = ctx.sink.received() - sinkBefore;
  if (!drained || delivered !== r.accepted) problems.push(`sink received ${delivered}, accepted ${r.accepted}`);
  const results = await readDelivered(ctx.dumpDir, gw.side);
  const notPassing = results.filter((x) => x.spf !== 'pass' || x.dkim !== 'pass' || x.dmarc !== 'pass');
  if (notPassing.length > 0) {
    const x = notPassing[0];
    problems.push(`${notPassing.length} delivered without spf, dkim and dmarc pass, e.g. ${x.messageId}: spf=${x.spf} dkim=${x.dkim} dmarc=${x.dmarc}`);
  }
  for (const x of results) {
    const bySide = ctx.agreement.get(x.messageId) ?? new Map<string, string>();
    bySide.set(gw.side, `spf=${x.spf} dkim=${x.dkim} dmarc=${x.dmarc}`);
    ctx.agreement.set(x.messageId, bySide);
  }
  if (s.forged) for (let i = 0; i < messages.length; i++) {
    const bySide = ctx.agreement.get(`forged-${i}`) ?? new Map<string, string>();
    bySide.set(gw.side, i < r.refused ? 'refused' : 'not refused');
    ctx.agreement.set(`forged-${i}`, bySide);
  }
  const n = messages.length;
  return {
    side: gw.side, scenario: s.id, rate: (n / r.elapsedMs) * 1000, cpuPer1000: (cpuSeconds / n) * 1000,
    dnsCpuPer1000: (dnsSeconds / n) * 1000, peakRssBytes, refusal: r.refusalSample, problems,
  };
}

function render(turns: PeerTurn[]): string {
  const out = [
    // Cores used = rate × CPU per message: on a shared machine the scheduler's share, not the
    // work per message, can decide the rate (one mxward process against dozens of Postfix tasks).
    '| scenario | mxward msg/s | peer msg/s | mxward vs peer | CPU s/1k mxward | peer | peer / mxward CPU | cores used mxward | peer | DNS server CPU s/1k mxward | peer | peak RSS MB mxward | peer |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of [...new Set(turns.map((t) => t.scenario))]) {
    const med = (side: Side, f: (t: PeerTurn) => number) => median(turns.filter((t) => t.scenario === scenario && t.side === side).map(f));
    const rate = (side: Side) => med(side, (t) => t.rate);
    const cpu = (side: Side) => med(side, (t) => t.cpuPer1000);
    out.push(`| ${scenario} | ${rate('mxward').toFixed(0)} | ${rate('peer').toFixed(0)} | ${ratio(rate('mxward'), rate('peer')).toFixed(2)}× | ` +
      `${cpu('mxward').toFixed(2)} | ${cpu('peer').toFixed(2)} | ${ratio(cpu('peer'), cpu('mxward')).toFixed(2)}× | ` +
      `${med('mxward', (t) => t.rate * t.cpuPer1000 / 1000).toFixed(2)} | ${med('peer', (t) => t.rate * t.cpuPer1000 / 1000).toFixed(2)} | ` +
      `${med('mxward', (t) => t.dnsCpuPer1000).toFixed(2)} | ${med('peer', (t) => t.dnsCpuPer1000).toFixed(2)} | ` +
      `${med('mxward', (t) => t.peakRssBytes / 2 ** 20).toFixed(0)} | ${med('peer', (t) => t.peakRssBytes / 2 ** 20).toFixed(0)} |`);
  }
  return out.join('\n');
}

/** Issue 17's authentication-on targets, on the medians. */
export function peerTargets(turns: PeerTurn[]): Array<{ target: string; met: boolean; detail: string }> {
  const out: Array<{ target: string; met: boolean; detail: string }> = [];
  for (const id of ['accept 20s 1KB', 'accept 20s 50KB']) {
    const med = (side: Side, f: (t: PeerTurn) => number) => median(turns.filter((t) => t.scenario === id && t.side === side).map(f));
    const x = ratio(med('mxward', (t) => t.rate), med('peer', (t) => t.rate));
    if (!Number.isFinite(x)) continue;
    const cm = med('mxward', (t) => t.cpuPer1000);
    const cp = med('peer', (t) => t.cpuPer1000);
    out.push({ target: `auth on, ${id}: ≥ 2× Postfix + policyd-spf + OpenDKIM + OpenDMARC`, met: x >= 2, detail: `${x.toFixed(2)}×` });
    out.push({ target: `auth on, ${id}: lower CPU per message`, met: cm < cp, detail: `${cm.toFixed(2)} vs ${cp.toFixed(2)} s/1k` });
  }
  return out;
}

export interface PeerSetResult { turns: PeerTurn[]; table: string; problems: string[] }

async function startGateways(o: { root: string; dnsHost: string; dnsAddress: string; sinkPort: number; workers?: number | 'auto' }): Promise<Gateway[]> {
  const gateways: Gateway[] = [];
  try {
    const mxDir = join(o.root, 'auth-peer-mxward');
    await mkdir(mxDir, { recursive: true });
    const mx = await startMxward({ dir: mxDir, sinkPort: o.sinkPort, maxSessions: 200, auth: { dnsServer: o.dnsAddress }, workers: o.workers });
    gateways.push({ side: 'mxward', port: mx.port, pids: () => mx.pids(), stop: () => mx.stop() });
    const pf = await startAuthPostfix({ dir: join(o.root, 'auth-peer-postfix'), sinkPort: o.sinkPort, maxSessions: 200, dnsHost: o.dnsHost });
    gateways.push({ side: 'peer', port: pf.port, pids: () => pf.pids(), stop: () => pf.stop() });
    return gateways;
  } catch (err) {
    for (const g of gateways) await g.stop().catch(() => {});
    throw err;
  }
}

/** `workers`: mxward's `workers:` (absent = its default, one process), as --mxward-workers sets it for every set. */
export async function runAuthPeerSet(o: { root: string; rounds: number; quick: boolean; sinkUser: string; log: (line: string) => void; interrupted: () => boolean; workers?: number | 'auto' }): Promise<PeerSetResult> {
  const scenarios = peerScenarios(o.quick);
  const keys = senderKeys();
  const corpus = new Map<string, Buffer[]>();
  const corpusKey = (s: { sizeBytes: number; forged: boolean }) => `${s.sizeBytes}${s.forged ? ' forged' : ''}`;
  for (const s of scenarios) {
    const have = corpus.get(corpusKey(s))?.length ?? 0;
    if (have < s.messages) corpus.set(corpusKey(s), await signedCorpus(keys, Math.max(s.messages, 200), s.sizeBytes, s.forged));
  }
  const dumpDir = join(o.root, 'auth-peer-sink');
  await mkdir(dumpDir, { recursive: true });
  await chmod(dumpDir, 0o777); // smtp-sink writes as the unprivileged sink user
  let dns: PortFiftyThreeDns | null = null;
  let sink: Sink | null = null;
  let gateways: Gateway[] = [];
  try {
    dns = await startPortFiftyThreeDns(keys.zone);
    sink = await startSink(o.sinkUser, dumpDir);
    gateways = await startGateways({ root: o.root, dnsHost: dns.host, dnsAddress: dns.address, sinkPort: sink.port, workers: o.workers });
    o.log(`auth peer set: mxward on ${gateways[0].port}, Postfix + policyd-spf + OpenDKIM + OpenDMARC on ${gateways[1].port}, sink ${sink.port}, DNS ${dns.address}`);
    const ctx: TurnContext = { sink, dumpDir, dns, agreement: new Map() };
    const problems: string[] = [];
    const warm = corpus.get(corpusKey({ sizeBytes: KB, forged: false }))!.slice(0, 200);
    for (const gw of gateways) {
      const t = await runPeerTurn(gw, { id: 'warm-up', sessions: 20, sizeBytes: KB, messages: warm.length, forged: false }, warm, ctx);
      problems.push(...t.problems.map((p) => `warm-up ${gw.side}: ${p}`));
    }
    const turns: PeerTurn[] = [];
    for (const s of scenarios) {
      const messages = corpus.get(corpusKey(s))!.slice(0, s.messages);
      for (let round = 0; round < o.rounds; round++) {
        for (const gw of round % 2 === 0 ? gateways : [...gateways].reverse()) {
          if (o.interrupted()) throw new Error('interrupted');
          const t = await runPeerTurn(gw, s, messages, ctx);
          turns.push(t);
          problems.push(...t.problems.map((p) => `${s.id} ${gw.side}: ${p}`));
          o.log(`${s.id.padEnd(20)} ${gw.side.padEnd(7)} ${t.rate.toFixed(0).padStart(6)} msg/s  cpu ${t.cpuPer1000.toFixed(2)} s/1k  dns cpu ${t.dnsCpuPer1000.toFixed(2)} s/1k  rss ${(t.peakRssBytes / 2 ** 20).toFixed(0)} MB${t.refusal ? `  refused: ${t.refusal}` : ''}${t.problems.length ? `  PROBLEMS: ${t.problems.join('; ')}` : ''}`);
        }
      }
    }
    const disagree = [...ctx.agreement].filter(([, bySide]) => bySide.size !== 2 || bySide.get('mxward') !== bySide.get('peer'));
    if (disagree.length > 0) {
      const [id, bySide] = disagree[0];
      problems.push(`results differ between the gateways for ${disagree.length} messages, e.g. ${id}: mxward ${bySide.get('mxward') ?? 'not seen'}, peer ${bySide.get('peer') ?? 'not seen'}`);
    }
    o.log(`auth peer set: ${ctx.agreement.size} messages compared between the gateways, ${disagree.length} differ`);
    return { turns, table: render(turns), problems };
  } finally {
    for (const g of gateways) await g.stop().catch((err) => o.log(`stopping ${g.side}: ${(err as Error).message}`));
    await sink?.stop();
    await dns?.close();
  }
}
