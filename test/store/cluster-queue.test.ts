// The cluster queue port on PostgreSQL (issue 14): published queues replace each other per node,
// owners are found by queue id, and a command goes to one node, is answered once, can be withdrawn
// only while unanswered, and is pruned once old. Two store handles act as two nodes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { NodeReport, QueueEntry } from '../../src/store/ports.ts';
import { createTestDatabase } from '../helpers/postgres.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
if (typeof db !== 'string') after(() => db.drop());

function entry(queueId: string, receivedAt: string): QueueEntry {
  return {
    queueId, status: 'deferred', mailFrom: 'news@fabrikam.test', receivedAt, nextAttemptAt: receivedAt, sizeBytes: 100, attempts: 1,
    recipients: [{ address: 'alice@contoso.test', state: 'pending', attempts: 1, lastReply: '451 4.3.0 try later' }], lastReply: '451 4.3.0 try later',
  };
}

const node = (nodeId: string): NodeReport => ({
  nodeId, address: '127.0.0.1:25', mxwardVersion: '0.1.0', policyVersion: 1, startedAt: new Date().toISOString(), queueDepth: 1, quarantineCount: 0, storeOutage: null,
});

test('published queues, owners, and commands answered once', { skip }, async (t) => {
  if (typeof db === 'string') return;
  const url = await db.schemaUrl('cluster_queue');
  const a = await PostgresStore.open(url);
  const b = await PostgresStore.open(url);
  t.after(async () => { await a.close(); await b.close(); });
  const qa = a.clusterQueue();
  const qb = b.clusterQueue();
  await a.recordNode(node('mx1:25'));

  await qa.publishQueue('mx1:25', [entry('AAAA01', '2026-11-30T01:00:00.000Z'), entry('AAAA02', '2026-11-30T02:00:00.000Z')]);
  await qb.publishQueue('mx2:25', [entry('BBBB01', '2026-11-30T01:30:00.000Z')]);
  // A new snapshot replaces the node's old one whole.
  await qa.publishQueue('mx1:25', [entry('AAAA02', '2026-11-30T02:00:00.000Z')]);
  const listed = await qb.listClusterQueue();
  assert.deepEqual(listed.map((e) => [e.node, e.queueId]), [['mx2:25', 'BBBB01'], ['mx1:25', 'AAAA02']], 'oldest first');
  assert.ok(listed[1].heartbeatAgeMs < 60_000);
  assert.equal(listed[0].heartbeatAgeMs, Number.POSITIVE_INFINITY, 'a node without a row is shown as stale');
  assert.deepEqual(listed[1].recipients, entry('AAAA02', '').recipients);
  assert.deepEqual([...(await qb.queueOwners(['AAAA02', 'BBBB01', 'AAAA01']))].sort(), [['AAAA02', 'mx1:25'], ['BBBB01', 'mx2:25']]);

  const id = await qb.requestQueueCommand({ nodeId: 'mx1:25', action: 'retry', queueIds: ['AAAA02'], actor: 'cli:bob' });
  assert.deepEqual(await qb.pendingQueueCommands('mx2:25'), []);
  assert.deepEqual(await qa.pendingQueueCommands('mx1:25'), [{ id, nodeId: 'mx1:25', action: 'retry', queueIds: ['AAAA02'], actor: 'cli:bob' }]);
  assert.equal(await qb.queueCommandResult(id), null);
  await qa.completeQueueCommand(id, { done: ['AAAA02'], notFound: [] });
  assert.deepEqual(await qb.queueCommandResult(id), { done: ['AAAA02'], notFound: [] });
  assert.deepEqual(await qa.pendingQueueCommands('mx1:25'), []);
  assert.equal(await qb.cancelQueueCommand(id), false, 'an answered command cannot be withdrawn');

  const unanswered = await qb.requestQueueCommand({ nodeId: 'mx9:25', action: 'delete', queueIds: ['ZZZZ99'], actor: 'cli:bob' });
  assert.equal(await qb.cancelQueueCommand(unanswered), true);
  assert.deepEqual(await qa.pendingQueueCommands('mx9:25'), []);

  // Pruning keeps recent answers and removes old ones.
  assert.equal(await qa.pruneQueueCommands(3_600_000), 0);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`UPDATE queue_commands SET done_at = now() - interval '2 hours' WHERE id = $1`, [id]);
  } finally {
    await admin.end();
  }
  assert.equal(await qa.pruneQueueCommands(3_600_000), 1);
  assert.equal(await qb.queueCommandResult(id), null);
});
