// `node bench/console/request-cost.ts [--seconds N] [--windows N] [--rate N] [--seed N]`
//
// What one API request costs the gateway's event loop, without SMTP traffic to blur it (issue 13):
// the console bench's gateway and seeded trace, then windows of N seconds in turn with no client
// and with the load client (load-client.ts, the same mix of dashboard and trace requests) at
// --rate requests a second. Per window the CPU of the gateway's main thread and of its worker
// threads (/proc/PID/task); the answer is (main CPU loaded − main CPU idle) / requests answered,
// in ms. Loopback only; every process started is stopped and the directory removed.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSink } from '../gateway/sink.ts';
import type { Sink } from '../gateway/sink.ts';
import { createLoadToken, startConsoleGateway } from './gateway.ts';
import type { ConsoleGateway } from './gateway.ts';
import { startLoad } from './load.ts';
import type { RunningLoad } from './load.ts';
import { seededIps, seedTrace } from './seed.ts';
import { diffCpu, threadCpu } from './threads.ts';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '10' }, windows: { type: 'string', default: '3' },
  rate: { type: 'string', default: '20' }, seed: { type: 'string', default: '5000' },
} });
const seconds = Number(values.seconds);
const windowCount = Number(values.windows);
const rate = Number(values.rate);
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) {
  log('run as root: smtp-sink drops to user nobody');
  process.exit(2);
}
const root = await mkdtemp(join(tmpdir(), 'mxward-request-cost-'));
await chmod(root, 0o755);
let sink: Sink | null = null;
let gw: ConsoleGateway | null = null;
let load: RunningLoad | null = null;
try {
  sink = await startSink('nobody');
  await mkdir(join(root, 'mxward'));
  gw = await startConsoleGateway({ dir: join(root, 'mxward'), sinkPort: sink.port, nodeArgs: [] });
  const seeded = await seedTrace(gw.port, Number(values.seed));
  log(`seeded ${seeded.sent} transactions`);
  const caFile = join(root, 'ca.pem');
  await writeFile(caFile, gw.ca);
  const options = { url: gw.consoleUrl, caFile, token: await createLoadToken(gw), rate, ips: seededIps(), maxSeconds: seconds + 60 };
  const pid = gw.pids()[0];
  load = await startLoad(options); // warm-up: JIT, the worker pool, the first dashboards
  await sleep(3000);
  await load.finish();
  load = null;
  const perRequest: number[] = [];
  for (let w = 0; w < windowCount; w++) {
    let before = threadCpu(pid);
    await sleep(seconds * 1000);
    const idle = diffCpu(threadCpu(pid), before);
    load = await startLoad(options);
    before = threadCpu(pid);
    await sleep(seconds * 1000);
    const loaded = diffCpu(threadCpu(pid), before);
    const report = await load.finish();
    load = null;
    const answered = report.requests - report.errors;
    const ms = ((loaded.main - idle.main) * 1000) / answered;
    perRequest.push(ms);
    log(`window ${w + 1}: main thread ${idle.main.toFixed(2)} s idle, ${loaded.main.toFixed(2)} s loaded; workers ${loaded.workers.toFixed(2)} s; ` +
      `${answered} answered (${report.errors} errors), p50 ${report.all.p50Ms.toFixed(0)} ms → event loop ${ms.toFixed(2)} ms per request`);
  }
  const sorted = [...perRequest].sort((a, b) => a - b);
  console.log(`event loop CPU per API request: median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} ms (${sorted.map((v) => v.toFixed(2)).join(', ')}) at ${rate} requests/s`);
} finally {
  load?.kill();
  await gw?.stop().catch((err) => log(`stopping mxward: ${(err as Error).message}`));
  await sink?.stop();
  await rm(root, { recursive: true, force: true });
}
