// Issue 11, session and resource limits, against the real listener: refused recipients and errors
// per session end in 421 with memory flat, a trickled command line or dialogue is cut at its
// deadline, AUTH guessing is slowed then locked out while normal mail is still served, the per-IP
// limit counts IPv6 by prefix, and a recipient the Maildir cannot store is refused at RCPT.
// Assertions are on replies, their order and counts, never on wall time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway, TestGatewayOptions } from '../helpers/gateway.ts';
import { RawSession } from '../helpers/smtp-session.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { waitFor } from '../helpers/loopback.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { hasCommand } from '../helpers/commands.ts';
import { hashPassword } from '../../src/users/passwords.ts';

const contoso = (doc: Parameters<NonNullable<TestGatewayOptions['policy']>>[0]) => ({
  ...doc, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
});

async function gateway(t: { after(fn: () => Promise<void>): void }, options: TestGatewayOptions): Promise<TestGateway> {
  const gw = await startTestGateway({ policy: contoso, ...options });
  t.after(() => gw.close());
  return gw;
}

async function greeted(port: number, host = '127.0.0.1'): Promise<RawSession> {
  const s = await RawSession.open(port, host);
  assert.match(await s.reply() ?? '', /^220 /);
  assert.match(await s.command('EHLO client.invalid') ?? '', /^250/);
  return s;
}

/**
 * The flooding client, in its own process so the gateway's RSS (this process) is measured alone:
 * Python's sockets, one session, MAIL then `count` RCPTs pipelined in batches of 1,000 from a
 * writer thread while the main thread reads every reply until the server closes.
 */
const FLOOD_CLIENT = `
import json, socket, sys, threading
port, count, sender = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None
        lines.append(line.decode("latin1").rstrip("\\r\\n"))
        if line[3:4] != b"-":
            return "\\n".join(lines)
reply()
s.sendall(b"EHLO flood.test\\r\\n"); reply()
s.sendall(b"MAIL FROM:<%s>\\r\\n" % sender.encode()); mail = reply()
def write():
    try:
        for start in range(0, count, 1000):
            batch = range(start, min(count, start + 1000))
            s.sendall(b"".join(b"RCPT TO:<victim%d@elsewhere.test>\\r\\n" % i for i in batch))
    except OSError:
        pass
threading.Thread(target=write, daemon=True).start()
replies = []
while len(replies) < count + 10:
    r = reply()
    if r is None:
        break
    replies.append(r)
print(json.dumps({"mail": mail, "replies": len(replies), "refused": sum(r.startswith("550 5.7.64 ") for r in replies), "last": replies[-1] if replies else None}))
`;

/** RSS after a full garbage collection, so the figure is what is held, not what awaits collection. */
function rssAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().rss;
}

const execFileAsync = promisify(execFile);

interface FloodResult { mail: string; replies: number; refused: number; last: string | null }

/** Runs a program without stdin (helpers' run() writes to stdin, which `ip` may close first: EPIPE). */
async function runQuiet(cmd: string, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

async function flood(port: number, count: number, sender: string): Promise<FloodResult> {
  const r = await runQuiet('python3', ['-c', FLOOD_CLIENT, String(port), String(count), sender]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as FloodResult;
}

test('100,000 refused RCPTs: 421 4.7.0 after the limit, a bounded trace, and RSS stays flat', { skip: !hasCommand('python3') && 'python3 missing' }, async (t) => {
  const gw = await gateway(t, {});
  const SESSIONS = 4;
  const ATTEMPTED = 100_000;
  const floods = (round: string) => Promise.all(Array.from({ length: SESSIONS }, (_, i) => flood(gw.inbound.port, ATTEMPTED, `flood${round}${i}@fabrikam.test`)));
  // A first round of the same shape sizes the heap and socket buffers; the second must not grow it.
  await floods('warmup');
  const rssBeforeBytes = rssAfterGc();
  const results = await floods('');
  const rssAfterBytes = rssAfterGc();
  for (const r of results) {
    // The default cap (limits.maxRefusedRecipients = 100): 100 refusals, then 421 and close.
    assert.match(r.mail, /^250 /);
    assert.deepEqual({ replies: r.replies, refused: r.refused, last: r.last }, { replies: 101, refused: 100, last: '421 4.7.0 Too many refused recipients, closing connection' });
  }
  const record = await gw.waitForTrace({ sender: 'flood0@fabrikam.test' });
  assert.equal(record.reply, '421 4.7.0 Too many refused recipients, closing connection');
  // limits.traceListMax (20) addresses, then the count of the rest.
  assert.equal(record.rejectedRecipients?.length, 21);
  assert.equal(record.rejectedRecipients?.[0], 'victim0@elsewhere.test');
  assert.equal(record.rejectedRecipients?.[20], '… and 80 more');
  assert.equal(record.hits.filter((h) => h.detail.includes('@elsewhere.test')).length, 20, 'rule hits kept for the listed addresses only');
  const growthMb = (rssAfterBytes - rssBeforeBytes) / 1024 / 1024;
  t.diagnostic(`gateway RSS before ${(rssBeforeBytes / 1048576).toFixed(1)} MB, after ${SESSIONS} more floods ${(rssAfterBytes / 1048576).toFixed(1)} MB`);
  // Unbounded, the sessions would hold 400,000 addresses and as many rule hits (~100 MB).
  assert.ok(growthMb < 24, `RSS grew by ${growthMb.toFixed(1)} MB`);
  assert.match(await sendOne(gw.inbound.port, 'ok@fabrikam.test', ['alice@contoso.test'], testMessage({ subject: 'after-flood' })).then((r) => r.reply), /^250 2\.6\.0 /);
});

test('RSET does not reset the refused-recipient count; an accepted message does', async (t) => {
  const gw = await gateway(t, { config: { limits: { maxRefusedRecipients: 5 } } });
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  const refuse = async (n: number) => {
    for (let i = 0; i < n; i++) assert.match(await s.command(`RCPT TO:<x${i}@elsewhere.test>`) ?? '', /^550 5\.7\.64 /);
  };
  assert.match(await s.command('MAIL FROM:<a@fabrikam.test>') ?? '', /^250 /);
  await refuse(4);
  assert.match(await s.command('RCPT TO:<erin@contoso.test>') ?? '', /^250 /);
  assert.match(await s.command('DATA') ?? '', /^354 /);
  assert.match(await s.command(`${testMessage({ subject: 'resets-refused' })}.`) ?? '', /^250 2\.6\.0 /);
  assert.match(await s.command('MAIL FROM:<a@fabrikam.test>') ?? '', /^250 /);
  await refuse(3);
  assert.match(await s.command('RSET') ?? '', /^250 /);
  assert.match(await s.command('MAIL FROM:<a@fabrikam.test>') ?? '', /^250 /);
  await refuse(2);
  assert.equal(await s.command('RCPT TO:<erin@contoso.test>'), '421 4.7.0 Too many refused recipients, closing connection');
  await s.waitClosed(5000);
});

test('errors per session: delayed past the soft limit, 421 4.7.0 at the hard limit; refused RCPTs are not errors', async (t) => {
  const gw = await gateway(t, { config: { limits: { softErrorLimit: 2, errorDelayMs: 5, hardErrorLimit: 4 } } });
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  assert.match(await s.command('MAIL FROM:<a@fabrikam.test>') ?? '', /^250 /);
  for (let i = 0; i < 6; i++) assert.match(await s.command(`RCPT TO:<x${i}@elsewhere.test>`) ?? '', /^550 5\.7\.64 /);
  assert.match(await s.command('RSET') ?? '', /^250 /);
  for (let i = 0; i < 3; i++) assert.match(await s.command('MAIL FROM:<a@b@c>') ?? '', /^501 /, `error ${i + 1}`);
  assert.match(await s.command('NOOP') ?? '', /^250 /, 'still served (after a delay) between the limits');
  assert.match(await s.command('MAIL FROM:<a@b@c>') ?? '', /^501 /);
  assert.equal(await s.reply(), '421 4.7.0 Too many errors, closing connection');
  await s.waitClosed(5000);
});

test('an accepted message resets the error count (Postfix: errors "without delivering mail")', async (t) => {
  const gw = await gateway(t, { config: { limits: { hardErrorLimit: 3, errorDelayMs: 0 } } });
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 2; i++) assert.match(await s.command('MAIL FROM:<a@b@c>') ?? '', /^501 /);
    assert.match(await s.command('MAIL FROM:<ok@fabrikam.test>') ?? '', /^250 /);
    assert.match(await s.command('RCPT TO:<alice@contoso.test>') ?? '', /^250 /);
    assert.match(await s.command('DATA') ?? '', /^354 /);
    assert.match(await s.command(`${testMessage({ subject: `reset-${round}` })}.`) ?? '', /^250 2\.6\.0 /);
  }
  assert.match(await s.command('QUIT') ?? '', /^221 /);
});

test('a command line trickled one byte at a time is cut at its deadline', async (t) => {
  const gw = await gateway(t, { config: { limits: { commandLineDeadlineMs: 400, idleTimeoutMs: 60_000 } } });
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  const line = `MAIL FROM:<${'x'.repeat(200)}@fabrikam.test>\r\n`;
  let sent = 0;
  // Each byte well inside the idle timeout, so only the per-line deadline can end this.
  for (; sent < line.length && !s.closed; sent++) {
    s.send(line[sent]);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(sent < line.length, 'the line was cut before it was complete');
  assert.equal(await s.reply(), '421 4.4.2 Command took too long, closing connection');
  await s.waitClosed(5000);
});

test('the whole dialogue before DATA has a deadline that commands cannot extend', async (t) => {
  const gw = await gateway(t, { config: { limits: { dialogueDeadlineMs: 600, idleTimeoutMs: 60_000 } } });
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  let noops = 0;
  let last: string | null = null;
  for (let i = 0; i < 500; i++) {
    last = await s.command('NOOP');
    if (last === null || !last.startsWith('250')) break;
    noops += 1;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(noops > 0);
  assert.equal(last, '421 4.4.2 Session took too long, closing connection');
  await s.waitClosed(5000);
});

test('a message restarts the dialogue deadline: each transaction gets its own', async (t) => {
  const gw = await gateway(t, { config: { limits: { dialogueDeadlineMs: 5000, idleTimeoutMs: 60_000 } } });
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  for (let i = 0; i < 3; i++) {
    assert.match(await s.command('MAIL FROM:<ok@fabrikam.test>') ?? '', /^250 /);
    assert.match(await s.command('RCPT TO:<bob@contoso.test>') ?? '', /^250 /);
    assert.match(await s.command('DATA') ?? '', /^354 /);
    assert.match(await s.command(`${testMessage({ subject: `dialogue-${i}` })}.`) ?? '', /^250 2\.6\.0 /);
  }
  assert.match(await s.command('QUIT') ?? '', /^221 /);
  assert.equal((await waitForMaildir(gw.dataDir, 'bob@contoso.test', 3)).length, 3);
});

/** A log sink the test can read: pino writes JSON lines here. */
function capturedLogger(): { logger: pino.Logger; events: Array<Record<string, unknown>> } {
  const events: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, done) { events.push(JSON.parse(chunk.toString())); done(); } });
  return { logger: pino({ level: 'info' }, sink), events };
}

/** One SMTP session on the submission listener: STARTTLS, then `passwords.length` AUTH attempts. */
async function authAttempts(port: number, username: string, passwords: string[]): Promise<string[]> {
  const conn = new SMTPConnection({
    host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, name: 'guesser.test',
    allowInternalNetworkInterfaces: true, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 30_000,
  } as never);
  let closed = false;
  conn.on('end', () => { closed = true; });
  conn.on('error', () => { closed = true; });
  await new Promise<void>((resolve, reject) => conn.connect((err?: Error) => (err ? reject(err) : resolve())));
  const out: string[] = [];
  try {
    for (const pass of passwords) {
      if (closed) break;
      out.push(await new Promise<string>((resolve) => conn.login({ user: username, pass } as never, (err: (Error & { response?: string }) | null | undefined) => resolve(err ? err.response ?? err.message : 'ok'))));
    }
  } finally {
    conn.close();
  }
  return out;
}

test('200 bad AUTH attempts: growing delays, then lockout (454 4.7.0) while normal mail is served', async (t) => {
  const { logger, events } = capturedLogger();
  const gw = await gateway(t, {
    logger,
    config: { limits: { authFailuresBeforeLockout: 20, authLockoutMs: 600_000, authFailureDelayMs: 1, authFailureMaxDelayMs: 16, maxAuthFailuresPerConnection: 1000 } },
  });
  await gw.store.putUser({ username: 'alice', passwordHash: await hashPassword('correct horse'), addresses: ['alice@contoso.test'] }, 'test');
  const port = gw.submission!.port;
  const ATTEMPTS = 200;
  const replies: string[] = [];
  let deliveredAfter = -1;
  const attack = (async () => {
    // Several sessions, as a guesser would open them; each session sends 10 guesses.
    for (let i = 0; i < ATTEMPTS / 10; i++) replies.push(...await authAttempts(port, 'alice', Array.from({ length: 10 }, (_, j) => `guess-${i}-${j}`)));
  })();
  const delivery = (async () => {
    while (replies.length < 5) await new Promise((r) => setTimeout(r, 5));
    const result = await sendOne(gw.inbound.port, 'partner@fabrikam.test', ['carol@contoso.test'], testMessage({ subject: 'during-attack' }));
    deliveredAfter = replies.length;
    return result;
  })();
  const [, delivered] = await Promise.all([attack, delivery]);
  assert.equal(replies.length, ATTEMPTS);
  // The first 20 guesses were checked (535), every later one refused unchecked (454).
  assert.deepEqual(replies.slice(0, 20).map((r) => r.slice(0, 9)), Array(20).fill('535 5.7.8'));
  assert.ok(replies.slice(20).every((r) => r === '454 4.7.0 Temporary authentication failure, try again later'), replies.slice(20).find((r) => !r.startsWith('454')));
  const delays = events.filter((e) => e.stage === 'auth' && e.event === 'failed').map((e) => e.delayMs);
  assert.deepEqual(delays, [1, 2, 4, 8, 16, ...Array(15).fill(16)], 'each failure waits twice as long, up to the maximum');
  assert.equal(events.filter((e) => e.event === 'locked-out').length, ATTEMPTS - 20);
  // The concurrent delivery was served while the attack was still going on.
  assert.match(delivered.reply, /^250 2\.6\.0 /);
  assert.ok(deliveredAfter < ATTEMPTS, `delivered after ${deliveredAfter} of ${ATTEMPTS} attempts`);
  assert.equal((await waitForMaildir(gw.dataDir, 'carol@contoso.test')).length, 1);
  // The lockout is for guessing: the right password is refused too until it expires (no oracle).
  assert.deepEqual(await authAttempts(port, 'alice', ['correct horse']), ['454 4.7.0 Temporary authentication failure, try again later']);
});

test('AUTH failures per connection: the last allowed one is answered 421 and the connection closes', async (t) => {
  const gw = await gateway(t, { config: { limits: { maxAuthFailuresPerConnection: 3, authFailureDelayMs: 0 } } });
  await gw.store.putUser({ username: 'bob', passwordHash: await hashPassword('right'), addresses: ['bob@contoso.test'] }, 'test');
  const replies = await authAttempts(gw.submission!.port, 'bob', ['w1', 'w2', 'w3', 'w4']);
  assert.deepEqual(replies.map((r) => r.slice(0, 9)), ['535 5.7.8', '535 5.7.8', '421 4.7.0']);
  assert.deepEqual(await authAttempts(gw.submission!.port, 'bob', ['right']), ['ok'], 'a new connection with the right password still works');
});

test('the per-IP limit holds on the IPv6 listener (::1, counted as its /64)', async (t) => {
  let gw: TestGateway;
  try {
    gw = await gateway(t, { inboundOverride: { host: '::1', port: 0 }, config: { limits: { maxConnectionsPerIp: 2 } } });
  } catch (err) {
    return t.skip(`no IPv6 loopback here: ${(err as Error).message}`);
  }
  const held = [await greeted(gw.inbound.port, '::1'), await greeted(gw.inbound.port, '::1')];
  t.after(() => held.forEach((s) => s.close()));
  const third = await RawSession.open(gw.inbound.port, '::1');
  t.after(() => third.close());
  assert.equal(await third.reply(), '421 4.3.2 Too many connections, try again later');
  held[0].close();
  await held[0].waitClosed(5000);
  // The slot comes back once a session ends (released in onClose).
  const again = await waitFor('a freed slot', async () => {
    const candidate = await RawSession.open(gw.inbound.port, '::1');
    if ((await candidate.reply())?.startsWith('220 ')) return candidate;
    candidate.close();
    return null;
  }, 5000);
  for (const session of [...held, third, again]) session.close();
});

/** The first reply line a client bound to `localAddress` gets (the banner or the 421), and its socket. */
function bannerFrom(port: number, host: string, localAddress: string): Promise<{ banner: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ port, host, localAddress });
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve({ banner: text.slice(0, end), socket });
    });
    // After the banner a reset (the 421 closes the connection) is expected, not a failure.
    socket.on('error', (err) => (text.includes('\r\n') ? undefined : reject(err)));
  });
}

/** Documentation-prefix addresses put on lo for the test and always taken off again. */
const V6_SERVER = '2001:db8:6464::ff';
const V6_SAME_64 = ['2001:db8:6464::1', '2001:db8:6464::2', '2001:db8:6464:0:ffff::3', '2001:db8:6464::4'];
const V6_OTHER_64 = '2001:db8:6465::1';

test('many IPv6 addresses from one /64 share the per-IP limit on a live listener', { skip: (!hasCommand('ip') || process.getuid?.() !== 0) && 'needs root and ip(8) to add addresses to lo' }, async (t) => {
  const added: string[] = [];
  try {
    for (const address of [V6_SERVER, ...V6_SAME_64, V6_OTHER_64]) {
      const r = await runQuiet('ip', ['-6', 'addr', 'add', `${address}/128`, 'dev', 'lo', 'nodad']);
      if (r.code !== 0) return t.skip(`cannot add ${address} to lo: ${r.stderr.trim()}`);
      added.push(address);
    }
    const gw = await startTestGateway({ policy: contoso, inboundOverride: { host: V6_SERVER, port: 0 }, config: { limits: { maxConnectionsPerIp: 2 } } });
    const sockets: Socket[] = [];
    try {
      const banners: string[] = [];
      for (const local of V6_SAME_64) {
        const { banner, socket } = await bannerFrom(gw.inbound.port, V6_SERVER, local);
        sockets.push(socket);
        banners.push(banner.slice(0, 9));
      }
      // Four different addresses, one /64: two slots, then 421 4.3.2.
      assert.deepEqual(banners, ['220 mx.te', '220 mx.te', '421 4.3.2', '421 4.3.2']);
      const other = await bannerFrom(gw.inbound.port, V6_SERVER, V6_OTHER_64);
      sockets.push(other.socket);
      assert.match(other.banner, /^220 /, 'the neighbouring /64 has its own slots');
    } finally {
      for (const socket of sockets) socket.destroy();
      await gw.close();
    }
  } finally {
    for (const address of added) await runQuiet('ip', ['-6', 'addr', 'del', `${address}/128`, 'dev', 'lo']);
  }
});

test('a recipient whose Maildir folder name is over 255 bytes is refused at RCPT with 550 5.1.3', async (t) => {
  const gw = await gateway(t, {});
  const s = await greeted(gw.inbound.port);
  t.after(() => s.close());
  assert.match(await s.command('MAIL FROM:<ok@fabrikam.test> SMTPUTF8') ?? '', /^250 /);
  s.send(Buffer.from(`RCPT TO:<${'é'.repeat(240)}@contoso.test>\r\n`, 'utf8'));
  assert.equal(await s.reply(), '550 5.1.3 Recipient address cannot be stored by the local delivery target');
  assert.match(await s.command('RCPT TO:<dave@contoso.test>') ?? '', /^250 /, 'a storable recipient in the same transaction');
  assert.match(await s.command('DATA') ?? '', /^354 /);
  assert.match(await s.command(`${testMessage({ subject: 'long-name' })}.`) ?? '', /^250 2\.6\.0 /);
  assert.match(await s.command('QUIT') ?? '', /^221 /);
  const record = await gw.waitForTrace({ recipient: 'dave@contoso.test' });
  assert.equal(record.rejectedRecipients?.length, 1);
  assert.ok(record.hits.some((h) => h.rule === 'unstorableRecipient'));
});
