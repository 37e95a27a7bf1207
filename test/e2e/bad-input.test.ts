// Hostile and broken clients: every one gets a reply with the right code or a timeout, nothing
// crashes, nothing half-received is delivered, and other clients keep being served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { RawSession } from '../helpers/smtp-session.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    config: { limits: { idleTimeoutMs: 1500, maxDataMs: 3000, maxConnectionsPerIp: 4, maxMessageBytes: 64 * 1024, maxRecipients: 5 } },
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => { await gw.close(); });

const greeted = () => RawSession.greeted(gw.inbound.port);

/** The proof that a bad client did no harm: a fresh, well-behaved transaction still goes through. */
async function stillServes(recipient: string): Promise<void> {
  const s = await greeted();
  assert.match(await s.command('MAIL FROM:<ok@fabrikam.test>') ?? '', /^250/);
  assert.match(await s.command(`RCPT TO:<${recipient}>`) ?? '', /^250/);
  assert.match(await s.command('DATA') ?? '', /^354/);
  assert.match(await s.command('From: ok@fabrikam.test\r\nSubject: fine\r\n\r\nstill here\r\n.') ?? '', /^250 2\.6\.0 /);
  s.close();
  assert.equal((await waitForMaildir(gw.dataDir, recipient)).length, 1);
}

test('unknown and malformed commands get 5xx replies and the session goes on', async () => {
  const s = await greeted();
  assert.match(await s.command('FOO BAR') ?? '', /^5\d\d /);
  assert.match(await s.command('MAIL FROM:<<>') ?? '', /^501 /);
  assert.match(await s.command('RCPT TO:<alice@contoso.test>') ?? '', /^503 /, 'RCPT before MAIL');
  assert.match(await s.command('MAIL FROM:<a@b@c>') ?? '', /^501 /);
  assert.match(await s.command('NOOP') ?? '', /^250 /);
  s.close();
  await stillServes('after-malformed@contoso.test');
});

test('NUL bytes in commands are refused without a crash', async () => {
  const s = await greeted();
  const reply = await s.command('MAIL FROM:<ev\0il@fabrikam.test>');
  assert.ok(reply === null || /^5\d\d /.test(reply), `got ${reply}`);
  s.close();
  await stillServes('after-nul@contoso.test');
});

test('a 1 MB line is refused and the gateway keeps serving', async () => {
  const s = await greeted();
  s.send(`MAIL FROM:<${'a'.repeat(1024 * 1024)}@fabrikam.test>\r\n`);
  const reply = await s.reply(5000);
  assert.equal(reply, '500 5.5.2 Line too long');
  await s.waitClosed(2000);
  await stillServes('after-long-line@contoso.test');
});

test('pipelining abuse: each command gets its reply, the recipient limit holds', async () => {
  const s = await greeted();
  const rcpts = Array.from({ length: 8 }, (_, i) => `RCPT TO:<user${i}@contoso.test>\r\n`).join('');
  s.send(`MAIL FROM:<bulk@fabrikam.test>\r\n${rcpts}RSET\r\n`);
  const replies: string[] = [];
  for (let i = 0; i < 10; i++) replies.push(await s.reply() ?? 'closed');
  assert.match(replies[0], /^250 /);
  assert.deepEqual(replies.slice(1, 6).map((r) => r.slice(0, 3)), ['250', '250', '250', '250', '250']);
  assert.match(replies[6], /^452 4\.5\.3 Too many recipients/);
  assert.match(replies[7], /^452 4\.5\.3 /);
  assert.match(replies[9], /^250 /, 'RSET');
  s.close();
});

test('SIZE over the limit is refused at MAIL, an oversized body at end of DATA, and nothing is delivered', async () => {
  const s = await greeted();
  assert.match(await s.command('MAIL FROM:<big@fabrikam.test> SIZE=99999999') ?? '', /^552 5\.3\.4 Message size exceeds fixed maximum message size/);
  assert.match(await s.command('MAIL FROM:<big@fabrikam.test>') ?? '', /^250 /);
  assert.match(await s.command('RCPT TO:<bigbox@contoso.test>') ?? '', /^250 /);
  assert.match(await s.command('DATA') ?? '', /^354 /);
  const line = `${'x'.repeat(998)}\r\n`;
  s.send(`Subject: big\r\n\r\n${line.repeat(100)}.\r\n`);
  assert.match(await s.reply() ?? '', /^552 5\.3\.4 /);
  s.close();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await maildirMessages(gw.dataDir, 'bigbox@contoso.test')).length, 0);
});

test('a client that stalls mid-DATA is dropped after the idle timeout; others are served meanwhile', async () => {
  const stalled = await greeted();
  assert.match(await stalled.command('MAIL FROM:<slow@fabrikam.test>') ?? '', /^250 /);
  assert.match(await stalled.command('RCPT TO:<stall@contoso.test>') ?? '', /^250 /);
  assert.match(await stalled.command('DATA') ?? '', /^354 /);
  stalled.send('Subject: half a message\r\n\r\nand then nothing');
  await stillServes('while-stalled@contoso.test');
  await stalled.waitClosed(5000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await maildirMessages(gw.dataDir, 'stall@contoso.test')).length, 0, 'a partial message is never delivered');
  const record = await gw.waitForTrace({ sender: 'slow@fabrikam.test' });
  assert.equal(record.verdict, 'abandoned');
});

test('a client that trickles its message slower than maxDataMs allows is cut off with 421 4.4.2', async () => {
  const slow = await greeted();
  assert.match(await slow.command('MAIL FROM:<trickle@fabrikam.test>') ?? '', /^250 /);
  assert.match(await slow.command('RCPT TO:<trickle@contoso.test>') ?? '', /^250 /);
  assert.match(await slow.command('DATA') ?? '', /^354 /);
  const startedMs = Date.now();
  // One byte every 400 ms never trips the 1.5 s idle timeout; only the whole-message deadline can.
  const drip = setInterval(() => { if (!slow.closed) slow.send('x'); }, 400);
  try {
    assert.equal(await slow.reply(8000), '421 4.4.2 Message transfer took too long, closing connection');
    await slow.waitClosed(3000);
  } finally {
    clearInterval(drip);
  }
  assert.ok(Date.now() - startedMs >= 2500, 'not before the deadline');
  assert.equal((await maildirMessages(gw.dataDir, 'trickle@contoso.test')).length, 0);
  const record = await gw.waitForTrace({ sender: 'trickle@fabrikam.test' });
  assert.equal(record.verdict, 'tempfail');
  assert.match(record.reply, /^421 4\.4\.2 /);
});

test('connections over the per-IP limit get 421 4.3.2', async () => {
  const held = await Promise.all(Array.from({ length: 4 }, () => greeted()));
  const extra = await RawSession.open(gw.inbound.port);
  assert.match(await extra.reply() ?? '', /^421 4\.3\.2 Too many connections/);
  extra.close();
  for (const s of held) s.close();
  await new Promise((r) => setTimeout(r, 100));
  await stillServes('after-limit@contoso.test');
});

test('a header section with broken lines and 8-bit bytes is accepted without a crash', async () => {
  const s = await greeted();
  assert.match(await s.command('MAIL FROM:<mime@fabrikam.test>') ?? '', /^250 /);
  assert.match(await s.command('RCPT TO:<mime@contoso.test>') ?? '', /^250 /);
  assert.match(await s.command('DATA') ?? '', /^354 /);
  s.send(Buffer.from('this line has no colon\r\nFrom: "\xff\xfe" <<broken@@>\r\nSubject: =?utf-8?B?!!!?=\r\n\r\nbody\r\n.\r\n', 'latin1'));
  const reply = await s.reply();
  assert.match(reply ?? '', /^(250|5\d\d) /);
  s.close();
  await stillServes('after-mime@contoso.test');
});
