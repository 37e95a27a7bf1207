// The queue across nodes on one PostgreSQL (issue 14, docs/cluster.md): node A cannot reach its
// downstream, so its messages wait in A's spool. Node B's CLI (its own data directory) lists them
// with --all-nodes, retries one (A delivers it once the downstream is up, exactly once), deletes
// another (gone from A's disk) and flushes every node; an id no node has is reported, exit 1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { bySubject, startCountingDownstream } from '../helpers/counting-downstream.ts';
import type { Downstream } from '../helpers/counting-downstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { mxwardBin, run } from '../helpers/commands.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { freePort, waitFor } from '../helpers/loopback.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
let pgDb: TestDatabase;
let nodeA: TestGateway;
let nodeB: TestGateway;
let downstreamPort: number;
let downstream: Downstream | null = null;
const arrived = new Map<string, number>();

function cliOnB(args: string[]) {
  return run(process.execPath, [mxwardBin, ...args, '--store-url', pgDb.url, '--data-dir', nodeB.dataDir]);
}

interface Listed { queueId: string; node: string; status: string; mailFrom: string }

async function listAll(): Promise<Listed[]> {
  const r = await cliOnB(['queue', 'list', '--all-nodes', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Listed[];
}

async function startDownstream(): Promise<void> {
  downstream = await startCountingDownstream({ port: downstreamPort, keyOf: bySubject, seen: arrived });
}

before(async () => {
  if (typeof db === 'string') return;
  pgDb = db;
  downstreamPort = await freePort();
  const policy = (doc: PolicyDocument): PolicyDocument => ({
    ...doc, rejectDirectSend: 'off' as const, rejectDirectSendHeaderFrom: 'off' as const,
    acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
  });
  // Nothing listens on the downstream port yet: A's first attempt fails and waits an hour.
  nodeA = await startTestGateway({
    config: { store: { url: db.url }, delivery: { default: { type: 'smtp', host: '127.0.0.1', port: downstreamPort, starttls: 'off' }, retryDelaysSeconds: [3600], rescanSeconds: 0.1 } },
    policy,
  });
  nodeB = await startTestGateway({ config: { store: { url: db.url }, delivery: { rescanSeconds: 0.1 } } });
});
after(async () => {
  await nodeA?.close();
  await nodeB?.close();
  if (downstream) await downstream.close();
  if (typeof db !== 'string') await db.drop();
});

async function queueOnA(subject: string): Promise<string> {
  const sender = `${subject}@fabrikam.test`;
  const r = await sendOne(nodeA.inbound.port, sender, ['alice@contoso.test'], testMessage({ from: `<${sender}>`, to: 'alice@contoso.test', subject }));
  assert.equal(r.code, 250, r.reply);
  const listed = await waitFor(`${subject} deferred and published by node A`, async () =>
    (await listAll()).find((e) => e.mailFrom === sender && e.status === 'deferred'), 15_000);
  return listed.queueId;
}

test('node B lists node A\'s queue, and a retry from B is carried out by A and delivered once', { skip }, async () => {
  const queueId = await queueOnA('retried');
  const nodes = (await nodeA.store.listNodes?.()) ?? [];
  const idOfA = nodes.find((n) => n.address === `127.0.0.1:${nodeA.inbound.port}`)!.nodeId;
  assert.equal((await listAll()).find((e) => e.queueId === queueId)!.node, idOfA);
  // Not on B's own spool: the plain list (this node only) does not have it.
  const local = await cliOnB(['queue', 'list', '--json']);
  assert.deepEqual(JSON.parse(local.stdout), []);
  // show finds it where it is published, and says which node holds it.
  const shown = await cliOnB(['queue', 'show', queueId]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`node\\s+${idOfA.replace(/[.]/g, '\\.')} \\(as published`));

  await startDownstream();
  const retried = await cliOnB(['queue', 'retry', queueId, '--json']);
  assert.equal(retried.code, 0, retried.stderr);
  const result = JSON.parse(retried.stdout) as { retried: string[]; notFound: string[]; nodes: Array<{ node: string | null; done: string[] }> };
  assert.deepEqual(result.retried, [queueId]);
  assert.deepEqual(result.notFound, []);
  assert.deepEqual(result.nodes.find((n) => n.node === idOfA)?.done, [queueId]);
  await waitFor('delivered by node A', async () => arrived.get('retried') === 1, 15_000);
  await waitFor('gone from the published queue', async () => !(await listAll()).some((e) => e.queueId === queueId), 15_000);
  assert.equal(arrived.get('retried'), 1);
  const trace = await nodeB.store.queryTrace({ sender: 'retried@fabrikam.test', limit: 5 });
  assert.equal(trace.length, 1);
  assert.equal(trace[0].node, idOfA);
});

test('a delete from node B removes the message from node A\'s spool; an unknown id exits 1', { skip }, async () => {
  // The downstream is up now: stop it so the message stays queued.
  await downstream!.close();
  downstream = null;
  const queueId = await queueOnA('deleted');
  const deleted = await cliOnB(['queue', 'delete', queueId]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleted 1 message\(s\)/);
  assert.equal(existsSync(join(nodeA.dataDir, 'spool', 'queue', `${queueId}.json`)), false);
  await waitFor('gone from the published queue', async () => !(await listAll()).some((e) => e.queueId === queueId), 15_000);

  const unknown = await cliOnB(['queue', 'retry', 'ZZZZZZZZZZ']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no queued message ZZZZZZZZZZ/);
  const bad = await cliOnB(['queue', 'retry', 'not-an-id']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a queue id/);
});

test('flush --all-nodes is answered by every live node', { skip }, async () => {
  const flushed = await cliOnB(['queue', 'flush', '--all-nodes', '--json']);
  assert.equal(flushed.code, 0, flushed.stderr);
  const result = JSON.parse(flushed.stdout) as { nodes: Array<{ node: string | null; unanswered?: boolean }> };
  const answered = result.nodes.filter((n) => n.node !== null && !n.unanswered).map((n) => n.node).sort();
  const live = ((await nodeA.store.listNodes?.()) ?? []).map((n) => n.nodeId).sort();
  assert.deepEqual(answered, live);
});
