// Back-pressure (issue 4): while the spool's file system is nearly full, or the queue is at its
// limit, new mail gets 452 4.3.1 (RFC 3463 §3.5 "mail system full") and nothing is accepted
// that might be lost; once space returns, or the queue drains, mail is accepted again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { startGateway } from '../../src/app.ts';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { mxward } from '../helpers/commands.ts';
import { freePort } from '../helpers/postfix.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';

const run = promisify(execFile);
const acceptExample = (doc: { acceptedDomains: unknown[] }) => ({ ...doc, acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }] });

async function tryMountTmpfs(dir: string, sizeMb: number): Promise<string | null> {
  if (userInfo().uid !== 0) return 'mounting a small tmpfs needs root';
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]);
    return null;
  } catch (err) {
    return `cannot mount tmpfs here: ${(err as Error).message.split('\n')[0]}`;
  }
}

test('a nearly full spool file system answers 452 4.3.1, and mail is accepted again when space returns', async (t) => {
  const mount = await mkdtemp(join(tmpdir(), 'mxward-spoolfs-'));
  const why = await tryMountTmpfs(mount, 32);
  if (why) { t.skip(why); await rm(mount, { recursive: true, force: true }); return; }
  const dataDir = join(mount, 'data');
  const config = bootstrapSchema.parse({
    hostname: 'mx.test.example', logLevel: 'silent', policyPollMs: 50, auth: { enabled: false },
    listeners: { inbound: { host: '127.0.0.1', port: 0 }, submission: null },
    delivery: { spool: { minFreeBytes: 8 * 1024 * 1024, minFreePercent: 0 } },
  });
  const gateway = await startGateway({ config, dataDir, logger: pino({ level: 'silent' }) });
  try {
    const saved = await changePolicy(gateway.store, 'test', 'test.policy', acceptExample as never);
    await gateway.livePolicy.waitForVersion(saved.version);
    const ok = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'before-full' }));
    assert.equal(ok.code, 250, ok.reply);

    // Fill the file system until less than the 8 MiB minimum is free: a real full disk.
    const s = await statfs(mount);
    const ballast = join(mount, 'ballast');
    await writeFile(ballast, Buffer.alloc(Math.max(0, s.bavail * s.bsize - 4 * 1024 * 1024)));
    await new Promise((r) => setTimeout(r, 600)); // the free-space figure is cached for 500 ms
    const full = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'while-full' }));
    assert.equal(full.code, 452, full.reply);
    assert.match(full.reply, /^452 4\.3\.1 Insufficient system storage/);
    const [refused] = (await gateway.store.queryTrace({ sender: 'sender@client.test' })).filter((r) => r.reply.startsWith('452'));
    assert.equal(refused.verdict, 'tempfail');

    await rm(ballast);
    await new Promise((r) => setTimeout(r, 600));
    const again = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'after-full' }));
    assert.equal(again.code, 250, again.reply);
    const delivered = await waitForMaildir(dataDir, 'alice@example.test', 2);
    assert.ok(delivered.some((m) => /Subject: after-full/.test(m)));
    assert.ok(!delivered.some((m) => /Subject: while-full/.test(m)));
  } finally {
    await gateway.stop();
    await run('umount', [mount]).catch(() => {});
    await rm(mount, { recursive: true, force: true });
  }
});

test('a queue at maxQueuedMessages answers 452 4.3.1 until it drains', async () => {
  const port = await freePort();
  const gateway = await startTestGateway({
    config: { delivery: { default: { type: 'smtp', host: '127.0.0.1', port, starttls: 'off' }, retryDelaysSeconds: [3600], rescanSeconds: 0.2, spool: { maxQueuedMessages: 3 } } },
    policy: acceptExample as never,
  });
  let received = 0;
  const downstream = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false,
    onData(stream, _s, cb) { stream.resume(); stream.on('end', () => { received += 1; cb(); }); },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: `queued-${i}` }));
      assert.equal(r.code, 250, r.reply);
    }
    await gateway.queue.whenIdle(); // the three are deferred: nothing listens downstream yet
    const refused = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'over-limit' }));
    assert.equal(refused.code, 452, refused.reply);
    assert.match(refused.reply, /4\.3\.1/);

    await new Promise<void>((r) => downstream.listen(port, '127.0.0.1', r));
    const flush = await mxward(gateway.dataDir, ['queue', 'flush']);
    assert.equal(flush.code, 0, flush.stderr);
    const until = Date.now() + 10_000;
    while (received < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.equal(received, 3);
    await gateway.queue.whenIdle();
    const accepted = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'after-drain' }));
    assert.equal(accepted.code, 250, accepted.reply);
  } finally {
    await gateway.close();
    await new Promise((r) => downstream.close(() => r(undefined)));
  }
});
