// Two gateway nodes on one PostgreSQL database (issue 14): a policy change made through the CLI
// against the shared store is in force on both nodes when `org set --wait` returns (each node's
// own report in the nodes table, then a real SMTP session on the other node), and `mxward nodes`
// lists both with the version they run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { mxwardBin, run } from '../helpers/commands.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { directSendAttempt } from '../helpers/smtp-session.ts';
import { waitFor } from '../helpers/loopback.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
let pgDb: TestDatabase;
let nodeA: TestGateway;
let nodeB: TestGateway;

function cli(args: string[]) {
  return run(process.execPath, [mxwardBin, ...args, '--store-url', pgDb.url, '--data-dir', nodeA.dataDir]);
}

const spoofAttempt = directSendAttempt;

before(async () => {
  if (typeof db === 'string') return;
  pgDb = db;
  // The slowest poll allowed: the push (LISTEN/NOTIFY) is what makes the change immediate.
  const config = { store: { url: db.url }, policyPollMs: 1000 };
  nodeA = await startTestGateway({ config });
  nodeB = await startTestGateway({ config });
});
after(async () => {
  await nodeA?.close();
  await nodeB?.close();
  if (typeof db !== 'string') await db.drop();
});

test('a change through one node is in force on the other when org set --wait returns', { skip }, async () => {
  const added = await cli(['domain', 'add', 'contoso.test']);
  assert.equal(added.code, 0, added.stderr);
  // Both nodes have written their row before --wait looks for live nodes.
  await waitFor('both nodes in the nodes table', async () => ((await nodeA.store.listNodes?.()) ?? []).length === 2);

  const set = await cli(['org', 'set', '--reject-direct-send', 'enforce', '--wait']);
  assert.equal(set.code, 0, set.stderr);
  const version = Number(/policy version (\d+)\)/.exec(set.stdout)?.[1]);
  assert.match(set.stdout, new RegExp(`policy version ${version} in force on 2 live node\\(s\\) after \\d+ ms`));
  // --wait returned, so both nodes already run it: no waiting here.
  assert.equal(nodeA.livePolicy.current().version, version);
  assert.equal(nodeB.livePolicy.current().version, version);
  assert.match(await spoofAttempt(nodeB.inbound.port) ?? '', /^550 5\.7\.68 /);

  const nodes = await cli(['nodes', '--json']);
  assert.equal(nodes.code, 0, nodes.stderr);
  const listed = JSON.parse(nodes.stdout) as { policyVersion: number; nodes: Array<{ address: string; policyVersion: number; live: boolean; queueDepth: number; mxwardVersion: string }> };
  assert.equal(listed.policyVersion, version);
  assert.deepEqual(listed.nodes.map((n) => n.address).sort(), [nodeA, nodeB].map((g) => `127.0.0.1:${g.inbound.port}`).sort());
  for (const n of listed.nodes) {
    assert.equal(n.policyVersion, version);
    assert.equal(n.live, true);
    assert.equal(n.queueDepth, 0);
    assert.match(n.mxwardVersion, /^\d+\.\d+\.\d+/);
  }
});

test('the other node applies a change written through the first node\'s store', { skip }, async () => {
  const before = nodeB.livePolicy.current().version;
  // Through node A's store, as an API on node A would; node B is not asked to refresh.
  const saved = await nodeA.store.writePolicy({ ...(await nodeA.store.readPolicy()).document, rejectDirectSend: 'report' }, 'test', 'org.set');
  assert.equal(saved.version, before + 1);
  await waitFor('node B runs the new version', async () => nodeB.livePolicy.current().version === saved.version, 5000);
  assert.match(await spoofAttempt(nodeB.inbound.port) ?? '', /^250 /);
});

test('org set --wait names the node that lags and exits 1 when a live node does not apply the change', { skip }, async () => {
  // A node row that claims to be live but never applies anything (a wedged node).
  await nodeA.store.recordNode!({
    nodeId: 'wedged:25', address: '192.0.2.1:25', mxwardVersion: '0.0.1', policyVersion: 0,
    startedAt: new Date().toISOString(), queueDepth: 0, quarantineCount: 0, storeOutage: null,
  });
  const set = await cli(['org', 'set', '--reject-direct-send', 'off', '--wait', '--wait-timeout', '0.5']);
  assert.equal(set.code, 1);
  assert.match(set.stderr, /not yet in force after \d+ ms on: wedged:25 \(version 0\)/);
});

test('each trace record names the node that handled it, and trace --node selects one node', { skip }, async () => {
  await spoofAttempt(nodeA.inbound.port);
  await spoofAttempt(nodeB.inbound.port);
  const nodeIds = ((await nodeA.store.listNodes?.()) ?? []).filter((n) => n.nodeId !== 'wedged:25');
  const idOf = (g: TestGateway) => nodeIds.find((n) => n.address === `127.0.0.1:${g.inbound.port}`)!.nodeId;
  for (const g of [nodeA, nodeB]) {
    const record = await g.waitForTrace({ node: idOf(g) });
    assert.equal(record.node, idOf(g));
  }
  const listed = await cli(['trace', '--node', idOf(nodeB), '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const records = JSON.parse(listed.stdout) as Array<{ node?: string }>;
  assert.ok(records.length >= 1);
  assert.deepEqual([...new Set(records.map((r) => r.node))], [idOf(nodeB)]);
  const table = await cli(['trace', '--limit', '5']);
  assert.match(table.stdout.split('\n')[0], /^time\s+node\s+ip\b/);
});
