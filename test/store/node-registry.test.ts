// The nodes table (issue 14) on both stores: a node's heartbeat upserts its own row (a restarted
// node does not appear twice), and the listing reports the heartbeat's age.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreReady } from '../../src/store/open-store.ts';
import type { NodeReport, Store } from '../../src/store/ports.ts';
import { liveNodes } from '../../src/services/nodes.ts';
import { createTestDatabase } from '../helpers/postgres.ts';

const db = await createTestDatabase();
if (typeof db !== 'string') after(() => db.drop());

const report = (nodeId: string, policyVersion: number): NodeReport => ({
  nodeId, address: `127.0.0.1:${nodeId.length}`, mxwardVersion: '0.1.0', policyVersion,
  startedAt: '2026-11-30T03:00:00.000Z', queueDepth: 3, quarantineCount: 1, storeOutage: null,
});

async function exercise(store: Store): Promise<void> {
  assert.deepEqual(await store.listNodes!(), []);
  await store.recordNode!(report('mx1:25', 1));
  await store.recordNode!(report('mx2:25', 1));
  await store.recordNode!({ ...report('mx1:25', 2), storeOutage: 'unreachable from a to b' });
  const nodes = await store.listNodes!();
  assert.deepEqual(nodes.map((n) => [n.nodeId, n.policyVersion, n.queueDepth, n.quarantineCount, n.storeOutage]),
    [['mx1:25', 2, 3, 1, 'unreachable from a to b'], ['mx2:25', 1, 3, 1, null]]);
  for (const n of nodes) {
    assert.ok(n.heartbeatAgeMs >= 0 && n.heartbeatAgeMs < 60_000, `age ${n.heartbeatAgeMs}`);
    assert.ok(!Number.isNaN(Date.parse(n.heartbeat)));
  }
  assert.equal(liveNodes(nodes).length, 2);
  // The applied time is the first report of a version: later heartbeats of it keep it.
  const mx2 = nodes.find((n) => n.nodeId === 'mx2:25')!;
  assert.ok(mx2.policyAppliedAt !== null && !Number.isNaN(Date.parse(mx2.policyAppliedAt)));
  // A few milliseconds so a moved time can differ at SQLite's millisecond resolution (not a wait for a condition).
  await new Promise((r) => setTimeout(r, 5));
  await store.recordNode!(report('mx2:25', 1));
  assert.equal((await store.listNodes!()).find((n) => n.nodeId === 'mx2:25')!.policyAppliedAt, mx2.policyAppliedAt);
  await new Promise((r) => setTimeout(r, 5));
  await store.recordNode!(report('mx2:25', 2));
  const moved = (await store.listNodes!()).find((n) => n.nodeId === 'mx2:25')!.policyAppliedAt!;
  assert.ok(Date.parse(moved) > Date.parse(mx2.policyAppliedAt!), `${moved} after ${mx2.policyAppliedAt}`);
  assert.equal(liveNodes(nodes.map((n) => ({ ...n, heartbeatAgeMs: 60_000 }))).length, 0);
}

test('sqlite: nodes are upserted by id and listed with their heartbeat age', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-nodes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await openStoreReady({ dataDir: dir });
  t.after(() => store.close());
  await exercise(store);
});

test('postgres: nodes are upserted by id and listed with their heartbeat age', { skip: typeof db === 'string' ? db : false }, async (t) => {
  if (typeof db === 'string') return;
  const store = await openStoreReady({ url: await db.schemaUrl('nodes'), dataDir: '/nonexistent' });
  t.after(() => store.close());
  await exercise(store);
});
