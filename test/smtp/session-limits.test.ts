// Issue 11: the per-connection guard as a table, without sockets: which replies count as errors,
// when the soft and hard limits act, and the two deadlines (with small values; no timing asserted,
// only which reply the expired deadline sends).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionGuard } from '../../src/smtp/session-limits.ts';
import type { SessionLimitSettings } from '../../src/smtp/session-limits.ts';
import type { SmtpReply } from '../../src/domain/types.ts';

const limits: SessionLimitSettings = { softErrorLimit: 2, errorDelayMs: 7, hardErrorLimit: 4, commandLineDeadlineMs: 60_000, dialogueDeadlineMs: 60_000 };

function guarded(settings: SessionLimitSettings = limits): { guard: SessionGuard; sent: SmtpReply[] } {
  const sent: SmtpReply[] = [];
  const guard = new SessionGuard(settings, { sendReply: (r) => sent.push(r) });
  return { guard, sent };
}

test('errors: 4xx/5xx count, 2xx/3xx and 421 do not; the soft limit delays, the hard limit answers 421 4.7.0', (t) => {
  const { guard } = guarded();
  t.after(() => guard.close());
  guard.commandReceived();
  assert.equal(guard.replySent(250, '2.1.0 Accepted'), null);
  assert.equal(guard.replySent(421, '4.3.2 Too many connections'), null);
  assert.equal(guard.errors, 0);
  assert.equal(guard.replySent(501, '5.1.7 Bad address syntax'), null);
  assert.equal(guard.commandDelayMs(), 0);
  assert.equal(guard.replySent(503, 'Error: bad sequence'), null);
  assert.equal(guard.commandDelayMs(), 7, 'from the soft limit on, each command waits');
  assert.equal(guard.replySent(500, 'Error: command not recognized'), null);
  assert.equal(guard.replySent(451, '4.3.0 Temporary server error')?.enhanced, '4.7.0');
  assert.equal(guard.errors, 4);
});

test('a recipient refused by policy is not an error; a malformed RCPT is', (t) => {
  const { guard } = guarded();
  t.after(() => guard.close());
  for (let i = 0; i < 10; i++) {
    guard.commandReceived();
    guard.recipientRefused();
    assert.equal(guard.replySent(550, '5.7.64 TenantAttribution; Relay Access Denied'), null);
  }
  assert.equal(guard.errors, 0);
  assert.equal(guard.refusedRecipients, 10);
  guard.commandReceived();
  guard.replySent(501, '5.1.7 Bad address syntax');
  assert.equal(guard.errors, 1);
  guard.replySent(250, '2.6.0 <Q2> Queued mail for delivery');
  assert.equal(guard.refusedRecipients, 0, 'an accepted message resets the refused count too');
});

test('an accepted message (250 2.6.0) resets the count', (t) => {
  const { guard } = guarded();
  t.after(() => guard.close());
  guard.replySent(501, 'x');
  guard.replySent(501, 'x');
  guard.replySent(501, 'x');
  assert.equal(guard.commandDelayMs(), 7);
  guard.replySent(250, '2.6.0 <Q1> Queued mail for delivery');
  assert.equal(guard.errors, 0);
  assert.equal(guard.commandDelayMs(), 0);
});

test('a partial line left too long sends 421 4.4.2 once; a complete line in time sends nothing', async (t) => {
  const { guard, sent } = guarded({ ...limits, commandLineDeadlineMs: 20 });
  t.after(() => guard.close());
  guard.partialLine();
  guard.commandReceived();
  guard.partialLine();
  guard.partialLine(); // more bytes of the same line: the deadline does not move
  for (let i = 0; i < 200 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(sent.map((r) => `${r.code} ${r.enhanced} ${r.text}`), ['421 4.4.2 Command took too long, closing connection']);
});

test('the dialogue deadline stops during DATA and starts again after it', async (t) => {
  const { guard, sent } = guarded({ ...limits, dialogueDeadlineMs: 20 });
  t.after(() => guard.close());
  guard.dataStarted();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(sent.length, 0, 'no dialogue deadline while the message is being received');
  guard.dataEnded();
  for (let i = 0; i < 200 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(sent.map((r) => r.text), ['Session took too long, closing connection']);
});
