// `node bench/profile.ts [accept|reject] [--sessions N] [--messages N] [--size BYTES]`: runs mxward
// under `node --cpu-prof` against smtp-sink, drives one scenario with smtp-source, and prints where
// the CPU went. The .cpuprofile stays in the printed directory for a flame graph (Chrome DevTools,
// speedscope).
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startMxward } from './gateway/mxward.ts';
import { startSink } from './gateway/sink.ts';
import { runSource } from './gateway/source.ts';
import { ACCEPTED_DOMAIN } from './gateway/peer.ts';
import { printSummary, summarizeProfile } from './gateway/profile-summary.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { sessions: { type: 'string', default: '20' }, messages: { type: 'string', default: '4000' }, size: { type: 'string', default: '1024' } },
});
const path = positionals[0] ?? 'accept';
if (path !== 'accept' && path !== 'reject') throw new Error('usage: node bench/profile.ts [accept|reject]');
const root = await mkdtemp(join(tmpdir(), 'mxward-profile-'));
const profDir = join(root, 'profile');
const sink = await startSink('nobody');
const peer = await startMxward({ dir: root, sinkPort: sink.port, maxSessions: 200, workers: 1, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
const messages = Number(values.messages);
try {
  const r = await runSource({
    sessions: Number(values.sessions), messages, sizeBytes: Number(values.size),
    from: path === 'accept' ? 'sender@partner.test' : `sender@${ACCEPTED_DOMAIN}`, to: `user@${ACCEPTED_DOMAIN}`,
    port: peer.port, timeoutMs: 300_000,
  });
  console.log(`${path}: ${messages} messages in ${(r.elapsedMs / 1000).toFixed(2)} s = ${(messages / r.elapsedMs * 1000).toFixed(0)}/s; 5.7.68 replies ${r.directSendRejects}; other problems ${r.otherProblemCount}`);
  if (path === 'accept') console.log(`sink: all delivered = ${await sink.waitFor(messages, 120_000)}`);
} finally {
  await peer.stop();
  await sink.stop();
}
const file = (await readdir(profDir)).find((n) => n.endsWith('.cpuprofile'));
if (!file) throw new Error(`no profile written in ${profDir}`);
printSummary(`mxward ${path} path`, summarizeProfile(join(profDir, file)));
console.log(`\nprofile: ${join(profDir, file)}`);
