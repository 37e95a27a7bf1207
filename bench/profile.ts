// `node bench/profile.ts [accept|reject|auth] [--sessions N] [--messages N] [--size BYTES] [--workers N]`: runs
// mxward under `node --cpu-prof` against smtp-sink, drives one scenario with smtp-source, and prints
// where the CPU went. `auth`: the accept path with SPF/DKIM/DMARC on against a loopback Knot DNS
// server, DKIM-signed messages sent by the bench's own driver (gateway/auth-set.ts). The .cpuprofile stays in the printed directory for a flame graph (Chrome DevTools,
// speedscope).
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startMxward } from './gateway/mxward.ts';
import { startSink } from './gateway/sink.ts';
import { runSource } from './gateway/source.ts';
import { AUTH_FROM, senderKeys, signedCorpus } from './gateway/auth-corpus.ts';
import { drive } from './gateway/smtp-driver.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { ACCEPTED_DOMAIN } from './gateway/peer.ts';
import { printSummary, summarizeProfile } from './gateway/profile-summary.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { sessions: { type: 'string', default: '20' }, messages: { type: 'string', default: '4000' }, size: { type: 'string', default: '1024' }, workers: { type: 'string', default: '1' } },
});
const path = positionals[0] ?? 'accept';
if (path !== 'accept' && path !== 'reject' && path !== 'auth') throw new Error('usage: node bench/profile.ts [accept|reject|auth]');
const root = await mkdtemp(join(tmpdir(), 'mxward-profile-'));
const profDir = join(root, 'profile');
const sink = await startSink('nobody');
const keys = senderKeys();
const dns = path === 'auth' ? await startDnsServer(keys.zone) : null;
const peer = await startMxward({ dir: root, sinkPort: sink.port, maxSessions: 200, workers: Number(values.workers), nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  auth: dns ? { dnsServer: dns.address } : undefined });
const messages = Number(values.messages);
try {
  if (path === 'auth') {
    const corpus = await signedCorpus(keys, messages, Number(values.size));
    const r = await drive({ port: peer.port, sessions: Number(values.sessions), messages: corpus, from: AUTH_FROM, to: `user@${ACCEPTED_DOMAIN}`, timeoutMs: 300_000 });
    console.log(`auth: ${messages} signed messages in ${(r.elapsedMs / 1000).toFixed(2)} s = ${(messages / r.elapsedMs * 1000).toFixed(0)}/s; accepted ${r.accepted}; problems ${r.problemCount} ${r.problems[0] ?? ''}`);
    console.log(`sink: all delivered = ${await sink.waitFor(r.accepted, 120_000)}`);
  } else {
  const r = await runSource({
    sessions: Number(values.sessions), messages, sizeBytes: Number(values.size),
    from: path === 'accept' ? 'sender@partner.test' : `sender@${ACCEPTED_DOMAIN}`, to: `user@${ACCEPTED_DOMAIN}`,
    port: peer.port, timeoutMs: 300_000,
  });
  console.log(`${path}: ${messages} messages in ${(r.elapsedMs / 1000).toFixed(2)} s = ${(messages / r.elapsedMs * 1000).toFixed(0)}/s; 5.7.68 replies ${r.directSendRejects}; other problems ${r.otherProblemCount}`);
  if (path === 'accept') console.log(`sink: all delivered = ${await sink.waitFor(messages, 120_000)}`);
  }
} finally {
  await peer.stop();
  await sink.stop();
  await dns?.close();
}
// With --workers N every process (the primary and each worker) writes its own profile.
const files = (await readdir(profDir)).filter((n) => n.endsWith('.cpuprofile'));
if (files.length === 0) throw new Error(`no profile written in ${profDir}`);
for (const file of files) {
  // The auth path also lists the authentication code inclusively: where its time goes, callees included.
  const inclusive = path === 'auth' ? /mailauth\/|src\/auth\/|node:internal\/crypto/ : /^$/;
  printSummary(`mxward ${path} path (${file})`, summarizeProfile(join(profDir, file), 25, inclusive));
  console.log(`\nprofile: ${join(profDir, file)}`);
}
