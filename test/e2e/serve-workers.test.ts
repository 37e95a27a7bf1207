// `mxward serve --workers 2`: both worker processes take connections on the one port, every
// message gets delivered by the worker whose share of the spool holds it, and a worker killed
// with SIGKILL under load is restarted by the primary without losing anything that got a 250.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward, mxwardBin } from '../helpers/commands.ts';
import { startCountingDownstream } from '../helpers/counting-downstream.ts';
import { SmtpClient, testMessage } from '../helpers/smtp-client.ts';
import { ownerSlot } from '../../src/spool/spool.ts';

const MESSAGES = 600;
const SESSIONS = 12;
const KILL_AT = 200;

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test(`two workers share the port; SIGKILL of one under load loses nothing acknowledged`, { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-workers-'));
  const dataDir = join(dir, 'data');
  const downstream = await startCountingDownstream();
  let child: ReturnType<typeof spawn> | null = null;
  let pids: number[] = [];
  try {
    const config = join(dir, 'mxward.yaml');
    await writeFile(config, [
      'hostname: gw.workers.test', 'logLevel: info', 'listeners:', '  submission: null', 'auth:', '  enabled: false',
      'delivery:', `  default: { type: smtp, host: 127.0.0.1, port: ${downstream.port}, starttls: "off", concurrency: 4 }`,
      '  retryDelaysSeconds: [1]', '  rescanSeconds: 1', '',
    ].join('\n'));
    // Admin commands do not create a store (issue 16): init first, as an administrator would.
    assert.equal((await mxward(dataDir, ['init'])).code, 0);
    assert.equal((await mxward(dataDir, ['domain', 'add', 'example.test'])).code, 0);
    const serve = spawn(process.execPath, [mxwardBin, 'serve', '--workers', '2', '--config', config, '--data-dir', dataDir, '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    child = serve;
    let stderr = '';
    const exited = new Promise<number | null>((r) => serve.once('exit', (code) => r(code)));
    let startTimer: NodeJS.Timeout | undefined;
    const started = await new Promise<{ port: number; pids: number[] }>((resolveStart, rejectStart) => {
      serve.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /inbound SMTP on 127\.0\.0\.1:(\d+), 2 workers \(pids (\d+) (\d+)\)/.exec(stderr);
        if (m) resolveStart({ port: Number(m[1]), pids: [Number(m[2]), Number(m[3])] });
      });
      serve.once('exit', () => rejectStart(new Error(`serve exited early: ${stderr}`)));
      startTimer = setTimeout(() => rejectStart(new Error(`serve did not start: ${stderr}`)), 60_000);
    }).finally(() => clearTimeout(startTimer));
    const { port } = started;
    pids = started.pids;

    const acked = new Set<string>();
    const ackedQueueIds: string[] = [];
    let next = 0;
    let killed = false;
    const session = async (s: number) => {
      while (next < MESSAGES) {
        const seq = next++;
        for (let attempt = 0; ; attempt++) {
          const token = `m${seq}.${attempt}.s${s}`;
          // A new connection per message, so the kernel chooses a worker for each.
          const client = await SmtpClient.connect(port, { timeoutMs: 2000 }).catch(() => null);
          const r = client ? await client.send('sender@client.test', ['alice@example.test'], testMessage({ subject: `w ${seq}`, headers: [`X-Test-Token: ${token}`] })) : null;
          client?.close();
          if (r?.code === 250) {
            acked.add(token);
            ackedQueueIds.push(/<([A-Z0-9]+)>/.exec(r.reply)![1]);
            if (!killed && acked.size >= KILL_AT) { killed = true; process.kill(pids[0], 'SIGKILL'); }
            break;
          }
          await new Promise((w) => setTimeout(w, 50));
        }
      }
    };
    await Promise.all(Array.from({ length: SESSIONS }, (_, s) => session(s)));

    // Each worker makes queue ids in its own share: both shares among the 250s = both workers served.
    const perWorker = [0, 1].map((slot) => ackedQueueIds.filter((id) => ownerSlot(id, 2) === slot).length);
    assert.ok(perWorker.every((n) => n >= MESSAGES / 10), `both workers took connections: ${perWorker.join(' / ')}`);

    const until = Date.now() + 60_000;
    const missing = () => [...acked].filter((t) => !downstream.seen.has(t));
    while (missing().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(missing(), [], 'every message that got a 250 arrived downstream');

    assert.match(stderr, new RegExp(`worker 1 \\(pid ${pids[0]}\\) exited \\(SIGKILL\\); restarting`));
    const restarted = [...stderr.matchAll(/"worker":1,"pid":(\d+),"stage":"start","event":"listening"/g)].map((m) => Number(m[1]));
    assert.ok(restarted.some((pid) => pid !== pids[0]), 'worker 1 came back with a new pid');
    const delivering = new Set([...stderr.matchAll(/"pid":(\d+),"stage":"transaction","event":"delivered"/g)].map((m) => m[1]));
    assert.ok(delivering.size >= 2, `deliveries from several worker processes: ${[...delivering].join(' ')}`);

    const queued = JSON.parse((await mxward(dataDir, ['queue', 'list', '--json'])).stdout) as unknown[];
    assert.equal(queued.length, 0, 'the queue CLI sees both shares, and both are empty');
    assert.deepEqual(await readdir(join(dataDir, 'spool', 'tmp')), ['w1', 'w2']);

    serve.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM received/);
    const workerPids = [...stderr.matchAll(/"pid":(\d+),"stage":"start"/g)].map((m) => Number(m[1]));
    // A worker gets the primary's stop before the primary exits; give it a bounded moment to be reaped.
    const deadline = Date.now() + 5_000;
    while (workerPids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(workerPids.filter(alive), [], 'no worker outlives the primary');
  } finally {
    // A failed assertion must not leave the gateway or its workers running.
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await downstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the queue CLI lists and retries entries from every worker share', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-workers-'));
  try {
    const { Spool } = await import('../../src/spool/spool.ts');
    const { newEnvelope } = await import('../../src/spool/envelope.ts');
    const root = join(dir, 'data', 'spool');
    const ids: string[] = [];
    for (const index of [0, 1]) {
      const spool = new Spool(root, { index, count: 2 });
      await spool.recover();
      const id = await spool.commitBuffer(Buffer.from('Subject: x\r\n\r\nbody\r\n'), (queueId) => newEnvelope({
        queueId, mailFrom: 'a@b.test', recipients: ['c@d.test'], prependHeaders: '', transactionId: `t${index}`, now: new Date(),
      }));
      assert.equal(ownerSlot(id, 2), index);
      assert.ok(spool.owns(id));
      ids.push(id);
    }
    // Worker 2's recovery leaves worker 1's entry alone, and the other way round.
    assert.deepEqual(await new Spool(root, { index: 1, count: 2 }).recover(), [ids[1]]);
    const list = await mxward(join(dir, 'data'), ['queue', 'list', '--json']);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ queueId: string }>).map((e) => e.queueId).sort(), [...ids].sort());
    assert.equal((await mxward(join(dir, 'data'), ['queue', 'retry', ...ids])).code, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
