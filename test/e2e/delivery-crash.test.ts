// The durability proof (issue 4): a real gateway process takes a bounded load from several
// concurrent SMTP sessions while it is killed with SIGKILL several times and restarted. Every
// message that got a 250 must reach the downstream; duplicates are counted and reported (they can
// only come from the window between the downstream's 250 and our envelope update, docs/delivery.md).
//
// The downstream is an SMTP server in this process (smtp-server), the instrument that counts
// what arrived; it is not killed. The gateway is `mxward serve` as an operator runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward, mxwardBin } from '../helpers/commands.ts';
import { startCountingDownstream } from '../helpers/counting-downstream.ts';
import { freePort, waitForPort } from '../helpers/postfix.ts';
import { SmtpClient, testMessage } from '../helpers/smtp-client.ts';

const MESSAGES = 2000;
const SESSIONS = 8;
/** Kill when this many messages have been acknowledged; the last kill hits the drain phase. */
const KILL_AT = [300, 800, 1300, 1800];

function startGateway(config: string, dataDir: string, port: number, workers: number): ChildProcess {
  return spawn(process.execPath, [mxwardBin, 'serve', '--workers', String(workers), '--config', config, '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'ignore'] });
}

// With 2 workers the SIGKILL hits the primary: its workers die with it (serve-workers.ts), and the
// restarted primary's workers recover their shares of the spool.
for (const workers of [1, 2]) test(`${MESSAGES} messages, ${SESSIONS} sessions, ${KILL_AT.length} SIGKILLs, ${workers} worker(s): nothing acknowledged is lost`, { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-crash-'));
  const dataDir = join(dir, 'data');
  const downstream = await startCountingDownstream();
  const port = await freePort();
  const config = join(dir, 'mxward.yaml');
  await writeFile(config, [
    // Email authentication is off: loopback has no DNS, and this test is about the spool.
    'hostname: gw.crash.test', 'logLevel: error', 'listeners:', '  submission: null', 'auth:', '  enabled: false',
    'delivery:', '  default: { type: smtp, host: 127.0.0.1, port: ' + downstream.port + ', starttls: "off", concurrency: 8 }',
    '  retryDelaysSeconds: [1]', '  rescanSeconds: 1', '',
  ].join('\n'));
  // Admin commands do not create a store (issue 16): init first, as an administrator would.
  assert.equal((await mxward(dataDir, ['init'])).code, 0);
  assert.equal((await mxward(dataDir, ['domain', 'add', 'example.test'])).code, 0);

  let gateway = startGateway(config, dataDir, port, workers);
  await waitForPort(port);
  const acked = new Set<string>();
  const unacked = new Set<string>();
  let next = 0;
  let kills = 0;
  let restarting: Promise<void> | null = null;
  const started = Date.now();

  const killAndRestart = async () => {
    kills += 1;
    const exited = new Promise((r) => gateway.once('exit', r));
    gateway.kill('SIGKILL');
    await exited;
    gateway = startGateway(config, dataDir, port, workers);
    await waitForPort(port);
  };
  const maybeKill = () => {
    if (!restarting && kills < KILL_AT.length && acked.size >= KILL_AT[kills]) {
      restarting = killAndRestart().finally(() => { restarting = null; });
    }
  };

  const worker = async (w: number) => {
    let client: SmtpClient | null = null;
    let attempt = 0;
    while (next < MESSAGES) {
      const seq = next++;
      for (;;) {
        const token = `m${seq}.${attempt++}.w${w}`;
        try {
          if (!client || !client.usable) { client?.close(); client = await SmtpClient.connect(port, { timeoutMs: 2000 }); }
          const r = await client.send('sender@client.test', ['alice@example.test'], testMessage({ subject: `crash ${seq}`, headers: [`X-Test-Token: ${token}`] }));
          if (r.code === 250) { acked.add(token); maybeKill(); break; }
          unacked.add(token);
        } catch {
          unacked.add(token);
          client = null;
        }
        await new Promise((r) => setTimeout(r, 50)); // gateway down or refusing: try again shortly
      }
    }
    client?.close();
  };
  await Promise.all(Array.from({ length: SESSIONS }, (_, w) => worker(w)));
  const sentMs = Date.now() - started;
  // Kills not reached during sending (every threshold is below MESSAGES) happen in the drain.
  while (kills < KILL_AT.length) { maybeKill(); await restarting; }

  // Drain: everything acknowledged must arrive (the queue is recovered after each restart).
  const until = Date.now() + 90_000;
  const missing = () => [...acked].filter((t) => !downstream.seen.has(t));
  while (missing().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1500)); // let late duplicates show
  const lost = missing();
  const duplicates = [...downstream.seen.values()].filter((n) => n > 1).length;
  const unackedArrived = [...unacked].filter((t) => downstream.seen.has(t)).length;
  const list = await mxward(dataDir, ['queue', 'list', '--json']);
  console.log(`crash test (${workers} worker(s)): ${acked.size} acknowledged, ${kills} SIGKILLs, sent in ${sentMs} ms, drained after ${Date.now() - started} ms; ` +
    `lost ${lost.length}, duplicated ${duplicates}, unacknowledged-but-delivered ${unackedArrived}, left in queue ${JSON.parse(list.stdout).length}`);

  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));
  await downstream.close();
  await rm(dir, { recursive: true, force: true });
  assert.ok(kills >= 3, `killed ${kills} times`);
  assert.ok(acked.size >= MESSAGES);
  assert.deepEqual(lost, [], 'every message that got a 250 arrived downstream');
});
