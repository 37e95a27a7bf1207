// The second client of the console-under-load bench, run as its own process so its CPU is not the
// gateway's: REQUESTS_PER_SECOND requests a second (open loop: a request starts on schedule
// whether or not earlier ones have answered, up to MAX_IN_FLIGHT) of what a console's users ask:
// the dashboard over several windows, and trace searches with filters that follow nextCursor a
// few pages deep, now and then opening one transaction. HTTPS with keep-alive, an API token.
//
//   node bench/console/load-client.ts URL CA_FILE RATE MAX_SECONDS IP[,IP...] [both|dashboard|trace]
//   (the token in MXWARD_BENCH_TOKEN; the last argument narrows the mix, to tell their costs apart)
//
// Prints "ready" once the first dashboard and trace page answered, then runs until stdin closes,
// SIGTERM, or MAX_SECONDS; at the end one JSON line (LoadReport) on stdout.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { stats } from './load-report.ts';
import type { KindStats, LoadReport } from './load-report.ts';

const MAX_IN_FLIGHT = 32;
const [url, caFile, rateText, maxSecondsText, ipList, mixText] = process.argv.slice(2);
const token = process.env.MXWARD_BENCH_TOKEN;
if (!url || !caFile || !token) {
  process.stderr.write('usage: load-client.ts URL CA_FILE RATE MAX_SECONDS IPS (token in MXWARD_BENCH_TOKEN)\n');
  process.exit(2);
}
const rate = Number(rateText ?? 20);
const maxSeconds = Number(maxSecondsText ?? 600);
const ips = (ipList ?? '').split(',').filter(Boolean);
const mix = mixText ?? 'both';
if (!['both', 'dashboard', 'trace'].includes(mix)) {
  process.stderr.write(`mix: expected both, dashboard or trace, got ${JSON.stringify(mix)}\n`);
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: readFileSync(caFile, 'utf8') });

function get(path: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), {
      agent, servername: 'localhost', headers: { accept: 'application/json', authorization: `Bearer ${token}` },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let json: any;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end();
  });
}

// What the console's views ask for, in turn. A quarter dashboards, the rest trace.
const DASHBOARDS = ['since=24h&bucket=1h', 'since=6h&bucket=15m', 'since=1h&bucket=5m'];
const SEARCHES = ['verdict=reject', 'directSend=any', 'directSend=header-from&since=2h', 'sender=payroll', 'recipient=user%40example.test&verdict=accept', '', 'since=30m'];
let dashboardTurn = 0;
let searchTurn = 0;
let ipTurn = 0;
/** A search being paged through: its query and the cursor of its next page. */
let paging: { query: string; cursor: string; pages: number } | null = null;
let lastTransactionId: string | null = null;
let tick = 0;

interface Planned { kind: string; path: string; query?: string; page?: number }

function nextRequest(): Planned {
  tick += 1;
  if (mix === 'dashboard' || (mix === 'both' && tick % 4 === 0)) return { kind: 'dashboard', path: `/api/v1/dashboard?${DASHBOARDS[dashboardTurn++ % DASHBOARDS.length]}` };
  if (tick % 4 === 1 && lastTransactionId) return { kind: 'trace record', path: `/api/v1/trace/${encodeURIComponent(lastTransactionId)}` };
  if (paging && paging.pages < 4) {
    const p = paging;
    paging = null; // taken; its answer sets the next cursor
    return { kind: 'trace next page', path: `/api/v1/trace?${p.query}${p.query ? '&' : ''}limit=50&cursor=${encodeURIComponent(p.cursor)}`, query: p.query, page: p.pages };
  }
  const query = searchTurn % 3 === 2 && ips.length ? `ip=${ips[ipTurn++ % ips.length]}` : SEARCHES[searchTurn % SEARCHES.length];
  searchTurn += 1;
  return { kind: 'trace search', path: `/api/v1/trace?${query}${query ? '&' : ''}limit=50`, query, page: 0 };
}

const latencies = new Map<string, number[]>();
const errorsByKind = new Map<string, number>();
const errorSamples: string[] = [];
const busyByKind = new Map<string, number>();
let busy = 0;
let requests = 0;
let skipped = 0;
let errors = 0;
let inFlight = 0;

function failed(kind: string, text: string): void {
  errors += 1;
  errorsByKind.set(kind, (errorsByKind.get(kind) ?? 0) + 1);
  if (errorSamples.length < 5) errorSamples.push(`${kind}: ${text}`);
}

async function one(): Promise<void> {
  const { kind, path, query, page } = nextRequest();
  requests += 1;
  inFlight += 1;
  const started = performance.now();
  try {
    const res = await get(path);
    const ms = performance.now() - started;
    if (res.status === 503 && res.json?.error?.code === 'busy') {
      busy += 1;
      busyByKind.set(kind, (busyByKind.get(kind) ?? 0) + 1);
      return;
    }
    if (res.status !== 200 || res.json === undefined) {
      failed(kind, `${res.status} ${JSON.stringify(res.json)?.slice(0, 200)}`);
      return;
    }
    latencies.set(kind, [...(latencies.get(kind) ?? []), ms]);
    if (query !== undefined) {
      if (res.json.nextCursor) paging = { query, cursor: res.json.nextCursor, pages: (page ?? 0) + 1 };
      lastTransactionId = res.json.items?.[0]?.transactionId ?? lastTransactionId;
    }
  } catch (err) {
    failed(kind, (err as Error).message);
  } finally {
    inFlight -= 1;
  }
}

// Warm-up: the first dashboard and trace page, so the measured turn starts with the load running.
for (const path of ['/api/v1/dashboard?since=24h&bucket=1h', '/api/v1/trace?limit=50']) {
  const res = await get(path).catch((err: Error) => ({ status: 0, json: err.message }));
  if (res.status !== 200) {
    process.stderr.write(`load client: ${path} answered ${res.status} ${JSON.stringify(res.json)?.slice(0, 300)}\n`);
    process.exit(1);
  }
}
process.stdout.write('ready\n');

const cpuBefore = process.cpuUsage();
const started = performance.now();
let stopping = false;
const timer = setInterval(() => {
  if (inFlight >= MAX_IN_FLIGHT) skipped += 1;
  else void one();
}, 1000 / rate);
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  const until = Date.now() + 30_000;
  while (inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const cpu = process.cpuUsage(cpuBefore);
  const byKind: Record<string, KindStats> = {};
  for (const kind of new Set([...latencies.keys(), ...errorsByKind.keys(), ...busyByKind.keys()])) {
    byKind[kind] = stats(latencies.get(kind) ?? [], errorsByKind.get(kind) ?? 0, busyByKind.get(kind) ?? 0);
  }
  const report: LoadReport = {
    seconds, requests, skipped, errors, busy, errorSamples, byKind,
    all: stats([...latencies.values()].flat(), errors, busy), cpuSeconds: (cpu.user + cpu.system) / 1e6,
    latenciesMs: Object.fromEntries([...latencies].map(([k, v]) => [k, v.map((ms) => Math.round(ms * 10) / 10)])),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  agent.destroy();
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.resume();
process.once('SIGTERM', () => void stop());
setTimeout(() => void stop(), maxSeconds * 1000).unref();
