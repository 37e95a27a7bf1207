// The real gateway on PostgreSQL: two nodes share one database, the CLI (MXWARD_STORE_URL, its
// own empty data directory) changes the policy, and both nodes act on it. Skips with the reason
// when no PostgreSQL server answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { mxwardBin, run } from '../helpers/commands.ts';
import type { RunResult } from '../helpers/commands.ts';
import { directSendAttempt } from '../helpers/smtp-session.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;

let pgDb: TestDatabase;
let nodeA: TestGateway;
let nodeB: TestGateway;
let cliDataDir: string;

/** The CLI as an operator on another host runs it: only the store URL in common with the nodes. */
function cli(args: string[]): Promise<RunResult> {
  return run(process.execPath, [mxwardBin, ...args, '--data-dir', cliDataDir, '--actor', 'ops@e2e'], { env: { MXWARD_STORE_URL: pgDb.url } });
}

const spoofAttempt = directSendAttempt;

before(async () => {
  if (typeof db === 'string') return;
  pgDb = db;
  cliDataDir = await mkdtemp(join(tmpdir(), 'mxward-cli-'));
  // The production poll interval: the promise is "within one second" on PostgreSQL too.
  const config = { store: { url: db.url }, policyPollMs: 250 };
  // Two nodes starting at the same moment on an empty database: the migration lock lets one
  // create the schema while the other waits, instead of both failing halfway.
  [nodeA, nodeB] = await Promise.all([startTestGateway({ config }), startTestGateway({ config })]);
  for (const args of [['domain', 'add', 'contoso.test'], ['org', 'set', '--reject-direct-send', 'enforce']]) {
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderr);
  }
  await Promise.all([nodeA.livePolicy.waitForVersion(2), nodeB.livePolicy.waitForVersion(2)]);
});

after(async () => {
  if (typeof db === 'string') return;
  await Promise.all([nodeA?.close(), nodeB?.close()]);
  await rm(cliDataDir, { recursive: true, force: true });
  await db.drop();
});

test('Direct Send is refused with 550 5.7.68 and traced in PostgreSQL, visible to the CLI', { skip }, async () => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: nodeA.inbound.port, secure: false, ignoreTLS: true, name: 'attacker.invalid' });
  await assert.rejects(
    transport.sendMail({ from: 'ceo@contoso.test', to: 'alice@contoso.test', subject: 'Wire transfer', text: 'urgent' }),
    (err: { responseCode?: number; response?: string }) => err.responseCode === 550 && /^550 5\.7\.68 /.test(err.response ?? ''),
  );
  const record = await nodeA.waitForTrace({ directSend: true, recipient: 'alice@contoso.test' });
  assert.equal(record.verdict, 'reject');
  assert.equal(record.directSend, 'p1');
  assert.match(record.reply, /^550 5\.7\.68 /);

  // The other node and the CLI read the same trace: one database, not one file per node.
  const [seenByB] = await nodeB.store.queryTrace({ directSend: true, limit: 1 });
  assert.equal(seenByB?.transactionId, record.transactionId);
  const r = await cli(['trace', '--direct-send', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((JSON.parse(r.stdout) as Array<{ transactionId: string }>).some((t) => t.transactionId === record.transactionId), r.stdout);
});

test('a policy change made with the CLI reaches both running nodes within one second', { skip }, async () => {
  assert.match(await spoofAttempt(nodeA.inbound.port) ?? '', /^550 5\.7\.68 /);
  assert.match(await spoofAttempt(nodeB.inbound.port) ?? '', /^550 5\.7\.68 /);

  const r = await cli(['org', 'set', '--reject-direct-send', 'report']);
  assert.equal(r.code, 0, r.stderr);
  const changedAt = Date.now();
  const pending = new Set([nodeA, nodeB]);
  while (pending.size > 0 && Date.now() - changedAt < 1000) {
    for (const node of [...pending]) if ((await spoofAttempt(node.inbound.port))?.startsWith('250')) pending.delete(node);
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(pending.size, 0, `still refusing ${Date.now() - changedAt} ms after the change`);

  // The change is audited in PostgreSQL under the operator's name.
  const store = await PostgresStore.open(pgDb.url);
  try {
    const [latest] = await store.listAudit(1);
    assert.deepEqual([latest.actor, latest.action], ['ops@e2e', 'org.set']);
    assert.equal((latest.new as { rejectDirectSend: string }).rejectDirectSend, 'report');
    assert.equal(await store.readPolicyVersion(), 3);
  } finally {
    await store.close();
  }
});
