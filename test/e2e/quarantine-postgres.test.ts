// The quarantine on PostgreSQL, end to end: a gateway whose store is PostgreSQL quarantines a
// message, the CLI (MXWARD_STORE_URL, the node's data directory for the message file and spool)
// releases it while a second release races it, the gateway delivers it once, and the trace record
// in PostgreSQL shows the delivery. Nothing of the quarantine may go to SQLite in the data
// directory. Skips with the reason when no PostgreSQL server answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { TraceRecord } from '../../src/domain/types.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { mxwardBin, run } from '../helpers/commands.ts';
import type { RunResult } from '../helpers/commands.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { holdMarked } from '../helpers/hold-check.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;

let pgDb: TestDatabase;
let gw: TestGateway;


function cli(args: string[]): Promise<RunResult> {
  return run(process.execPath, [mxwardBin, ...args, '--data-dir', gw.dataDir, '--actor', 'admin@e2e'], { env: { MXWARD_STORE_URL: pgDb.url } });
}

async function waitForDelivery(transactionId: string, timeoutMs = 10_000): Promise<TraceRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cli(['trace', '--json', '--limit', '50']);
    assert.equal(r.code, 0, r.stderr);
    const record = (JSON.parse(r.stdout) as TraceRecord[]).find((t) => t.transactionId === transactionId);
    if (record?.deliveryStatus === 'delivered' || Date.now() > deadline) return record!;
    await new Promise((res) => setTimeout(res, 100));
  }
}

before(async () => {
  if (typeof db === 'string') return;
  pgDb = db;
  gw = await startTestGateway({
    config: { store: { url: db.url }, quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
    endOfDataChecks: [holdMarked],
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});

after(async () => {
  if (typeof db === 'string') return;
  await gw?.close();
  await db.drop();
});

test('on PostgreSQL a message released with the CLI is delivered once and its trace in PostgreSQL shows it', { skip }, async () => {
  const sent = await sendOne(gw.inbound.port, 'news@fabrikam.test', ['alice@contoso.test'],
    testMessage({ from: 'News <news@fabrikam.test>', to: 'alice@contoso.test', subject: 'Invoice [hold]', body: 'Held body text.' }));
  assert.equal(sent.code, 250, sent.reply);
  const record = await gw.waitForTrace({ sender: 'news@fabrikam.test', verdict: 'quarantine' });
  assert.equal(record.deliveryStatus, 'quarantined');
  const id = record.quarantineId!;
  assert.ok(id);

  // The CLI finds it in PostgreSQL, and the data directory has no SQLite database at all.
  const listed = await cli(['quarantine', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string; policy: string }>).map((i) => [i.id, i.policy]), [[id, 'DefaultFullAccessPolicy']]);
  await assert.rejects(access(join(gw.dataDir, 'mxward.db')), { code: 'ENOENT' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await maildirMessages(gw.dataDir, 'alice@contoso.test')).length, 0, 'nothing delivered while held');

  // Two administrators release at the same moment: one wins, the other is told it is done.
  const [first, second] = await Promise.all([cli(['quarantine', 'release', id, '--json']), cli(['quarantine', 'release', id, '--json'])]);
  const won = [first, second].filter((r) => r.code === 0);
  const lost = [first, second].filter((r) => r.code !== 0);
  assert.equal(won.length, 1, `${first.stdout}${first.stderr}${second.stdout}${second.stderr}`);
  assert.equal(lost[0].code, 1);
  assert.match(lost[0].stderr, /nothing to release/);
  const release = JSON.parse(won[0].stdout) as { queueId: string; recipients: string[] };
  assert.deepEqual(release.recipients, ['alice@contoso.test']);

  const delivered = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 1);
  assert.equal(delivered.length, 1);
  assert.match(delivered[0], /^X-Mxward-Verdict: quarantine; released [A-Z0-9]+ by admin@e2e$/m);
  assert.match(delivered[0], /Held body text\./);

  // The trace record the gateway wrote in PostgreSQL carries the release and its delivery.
  const traced = await waitForDelivery(record.transactionId);
  assert.deepEqual([traced?.verdict, traced?.queueId, traced?.deliveryStatus], ['quarantine', release.queueId, 'delivered']);
  assert.equal(traced.deliveryAttempts, 1);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await maildirMessages(gw.dataDir, 'alice@contoso.test')).length, 1, 'delivered exactly once');

  // Every quarantine action is in the PostgreSQL audit log, next to policy changes.
  const store = await PostgresStore.open(pgDb.url);
  try {
    const actions = (await store.listAudit(100)).map((a) => `${a.actor}|${a.action}`);
    assert.ok(actions.includes('gateway|quarantine.add'), actions.join('\n'));
    assert.ok(actions.includes('admin@e2e|quarantine.list'), actions.join('\n'));
    assert.equal(actions.filter((a) => a === 'admin@e2e|quarantine.release').length, 1, actions.join('\n'));
    assert.ok(actions.includes('test|test.policy'), 'the policy change is in the same log');
  } finally {
    await store.close();
  }
  assert.deepEqual(await gw.quarantine!.list({ name: 'admin', asRecipient: null }), [], 'nothing left held');
});
