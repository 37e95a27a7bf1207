// `node bench/thread-share.ts [accept|reject] [--sessions N] [--messages N] [--size BYTES] [--warm N]`:
// where mxward's CPU goes by thread while smtp-source drives one scenario, and how busy its main
// thread (the event loop, where every SMTP command is handled) was. If the main thread is close
// to a whole core, mxward is as fast as one core lets it be, whatever the machine has left; the
// load generator's own CPU is printed beside it (it shares the cores). Issue 17.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startMxward } from './gateway/mxward.ts';
import { startSink } from './gateway/sink.ts';
import { runSource } from './gateway/source.ts';
import { ACCEPTED_DOMAIN } from './gateway/peer.ts';
import { threadCpuSeconds } from './gateway/procs.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { sessions: { type: 'string', default: '20' }, messages: { type: 'string', default: '20000' }, size: { type: 'string', default: '1024' }, warm: { type: 'string', default: '10000' } },
});
const path = positionals[0] ?? 'reject';
if (path !== 'accept' && path !== 'reject') throw new Error('usage: node bench/thread-share.ts [accept|reject] [--sessions N] [--messages N] [--size BYTES] [--warm N]');
const root = await mkdtemp(join(tmpdir(), 'mxward-threads-'));
const sink = await startSink('nobody');
const peer = await startMxward({ dir: root, sinkPort: sink.port, maxSessions: 200 });
const from = path === 'accept' ? 'sender@partner.test' : `sender@${ACCEPTED_DOMAIN}`;
const drive = (messages: number) => runSource({
  sessions: Number(values.sessions), messages, sizeBytes: Number(values.size), from, to: `user@${ACCEPTED_DOMAIN}`, port: peer.port, timeoutMs: 300_000,
});
try {
  const pid = peer.pids()[0]!;
  await drive(Number(values.warm));
  const MAIN = 'main (event loop)';
  const before = threadCpuSeconds(pid, MAIN);
  const messages = Number(values.messages);
  const r = await drive(messages);
  const after = threadCpuSeconds(pid, MAIN);
  const seconds = r.elapsedMs / 1000;
  console.log(`${path} ${values.sessions} sessions, ${messages} transactions in ${seconds.toFixed(2)} s = ${(messages / seconds).toFixed(0)}/s (after ${values.warm} unmeasured)`);
  const rows = [...after].map(([name, cpu]) => [name, cpu - (before.get(name) ?? 0)] as const).filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]);
  for (const [name, cpu] of rows) console.log(`  ${name.padEnd(20)} ${(cpu / seconds).toFixed(2)} of a core, ${(cpu / messages * 1e6).toFixed(0)} µs per transaction`);
  console.log(`  ${'smtp-source'.padEnd(20)} ${(r.cpuSeconds / seconds).toFixed(2)} of a core, ${(r.cpuSeconds / messages * 1e6).toFixed(0)} µs per transaction`);
} finally {
  await peer.stop();
  await sink.stop();
  await rm(root, { recursive: true, force: true });
}
