// A policy change made with the CLI reaches the running gateway without a restart: the next
// transaction sees it within a second, while a session already open keeps the policy it began with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { mxward } from '../helpers/commands.ts';
import { RawSession } from '../helpers/smtp-session.ts';

let gw: TestGateway;

before(async () => {
  // The production poll interval, not a test-friendly one: the promise is "within one second".
  gw = await startTestGateway({ config: { policyPollMs: 250 } });
  for (const args of [['domain', 'add', 'contoso.test'], ['org', 'set', '--reject-direct-send', 'enforce']]) {
    const r = await mxward(gw.dataDir, args);
    assert.equal(r.code, 0, r.stderr);
  }
  await gw.livePolicy.waitForVersion(2);
});
after(async () => { await gw.close(); });

async function spoofAttempt(session?: RawSession): Promise<string | null> {
  const s = session ?? await RawSession.open(gw.inbound.port);
  try {
    if (!session) {
      await s.reply();
      await s.command('EHLO attacker.invalid');
    }
    await s.command('MAIL FROM:<ceo@contoso.test>');
    const reply = await s.command('RCPT TO:<alice@contoso.test>');
    await s.command('RSET');
    return reply;
  } finally {
    if (!session) s.close();
  }
}

test('org set --reject-direct-send report flips the next transaction within one second', async () => {
  assert.match(await spoofAttempt() ?? '', /^550 5\.7\.68 /);
  const open = await RawSession.open(gw.inbound.port); // started under "enforce"
  await open.reply();
  await open.command('EHLO early.invalid');

  const r = await mxward(gw.dataDir, ['org', 'set', '--reject-direct-send', 'report']);
  assert.equal(r.code, 0, r.stderr);
  const changedAt = Date.now();
  let reply: string | null = null;
  while (Date.now() - changedAt < 1000) {
    reply = await spoofAttempt();
    if (reply?.startsWith('250')) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const elapsedMs = Date.now() - changedAt;
  assert.match(reply ?? '', /^250 /, `still refused ${elapsedMs} ms after the change`);
  assert.ok(elapsedMs < 1000);

  // The session opened before the change still runs under the policy it started with.
  assert.match(await spoofAttempt(open) ?? '', /^550 5\.7\.68 /);
  open.close();
});

test('every change is in the audit log with actor, old and new values', async () => {
  const r = await mxward(gw.dataDir, ['org', 'set', '--reject-direct-send', 'off', '--actor', 'alice-admin']);
  assert.equal(r.code, 0, r.stderr);
  const [latest] = await gw.store.listAudit(1);
  assert.equal(latest.actor, 'alice-admin');
  assert.equal(latest.action, 'org.set');
  assert.equal((latest.old as { rejectDirectSend: string }).rejectDirectSend, 'report');
  assert.equal((latest.new as { rejectDirectSend: string }).rejectDirectSend, 'off');
});
