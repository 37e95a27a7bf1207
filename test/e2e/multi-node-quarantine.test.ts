// One quarantine for several nodes (issue 14): a message quarantined on node A is stored in
// PostgreSQL with its row, so node C (another data directory, another spool) can preview it and
// release it; C delivers it exactly once, A delivers nothing, and a second release from A's side
// is refused by the shared once-only guard.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { mxwardBin, run } from '../helpers/commands.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { holdMarked } from '../helpers/hold-check.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
let nodeA: TestGateway;
let nodeC: TestGateway;


function cliOn(node: TestGateway, args: string[]) {
  if (typeof db === 'string') throw new Error(db);
  return run(process.execPath, [mxwardBin, ...args, '--store-url', db.url, '--data-dir', node.dataDir, '--actor', 'admin@e2e']);
}

before(async () => {
  if (typeof db === 'string') return;
  const config = { store: { url: db.url }, quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } };
  nodeA = await startTestGateway({
    config, endOfDataChecks: [holdMarked],
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
  nodeC = await startTestGateway({ config, endOfDataChecks: [holdMarked] });
});
after(async () => {
  await nodeA?.close();
  await nodeC?.close();
  if (typeof db !== 'string') await db.drop();
});

test('quarantined on node A, previewed and released on node C, delivered once', { skip }, async () => {
  const sent = await sendOne(nodeA.inbound.port, 'news@fabrikam.test', ['alice@contoso.test'],
    testMessage({ from: 'News <news@fabrikam.test>', to: 'alice@contoso.test', subject: 'Invoice [hold]', body: 'Held on A, released on C.' }));
  assert.equal(sent.code, 250, sent.reply);
  const record = await nodeA.waitForTrace({ sender: 'news@fabrikam.test', verdict: 'quarantine' });
  const id = record.quarantineId!;

  const listed = await cliOn(nodeC, ['quarantine', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ id: string }>).map((i) => i.id), [id]);
  const preview = await cliOn(nodeC, ['quarantine', 'preview', id]);
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, /Held on A, released on C\./);

  const released = await cliOn(nodeC, ['quarantine', 'release', id, '--json']);
  assert.equal(released.code, 0, released.stderr);
  const delivered = await waitForMaildir(nodeC.dataDir, 'alice@contoso.test', 1);
  assert.equal(delivered.length, 1);
  assert.match(delivered[0], /^X-Mxward-Verdict: quarantine; released [A-Z0-9]+ by admin@e2e$/m);
  assert.match(delivered[0], /Held on A, released on C\./);

  const again = await cliOn(nodeA, ['quarantine', 'release', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /nothing to release/);
  const traced = await nodeA.waitForTrace({ sender: 'news@fabrikam.test', verdict: 'quarantine' });
  assert.equal(traced.queueId, (JSON.parse(released.stdout) as { queueId: string }).queueId);
  assert.equal((await maildirMessages(nodeA.dataDir, 'alice@contoso.test')).length, 0, 'node A delivered nothing');
  assert.equal((await maildirMessages(nodeC.dataDir, 'alice@contoso.test')).length, 1, 'delivered exactly once');
});
