// The proof issue 14 asks for: three real `mxward serve` processes on loopback ports sharing one
// private PostgreSQL that this test starts (and later stops) itself, with real SMTP clients, a real
// DNS server (SPF decides which messages are own-domain spoofs, hence quarantined) and a real
// downstream that counts each message by its X-Test-Token header.
//
// 1. A policy change through node A's CLI is in force on all three within one second of its
//    commit: each node's own report (policyAppliedAt in `mxward nodes --json`, the store's clock)
//    against the audit entry of the commit; then each node refuses a Direct Send attempt.
// 2. A message quarantined on node A is released through node C's CLI and delivered exactly once;
//    a second release through node B is refused.
// 3. Under load across the three nodes, PostgreSQL is stopped for ten seconds and started again:
//    every 250 is delivered once (or, for a quarantine-bound message, stored in the quarantine and
//    not delivered), and the trace has exactly one record per transaction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { startCountingDownstream } from '../helpers/counting-downstream.ts';
import type { Downstream } from '../helpers/counting-downstream.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { waitFor } from '../helpers/loopback.ts';
import { postgresBinDir, startPrivatePostgres } from '../helpers/private-postgres.ts';
import type { PrivatePostgres } from '../helpers/private-postgres.ts';
import { SmtpClient, testMessage } from '../helpers/smtp-client.ts';
import { directSendAttempt } from '../helpers/smtp-session.ts';
import { nodesJson, startServeNode } from './cluster-nodes.ts';
import type { ServeNode } from './cluster-nodes.ts';

const skip = (postgresBinDir() === null && process.env.CI !== 'true' ? 'no PostgreSQL binaries (Debian package postgresql)' : null)
  ?? dnsServerUnavailable() ?? false;

let root: string;
let cluster: PrivatePostgres | null = null;
let dns: TestDnsServer | null = null;
let downstream: Downstream | null = null;
let store: PostgresStore | null = null;
const nodes: ServeNode[] = [];
let storeUrl: string;

before(async () => {
  if (skip) return;
  root = await mkdtemp(join(tmpdir(), 'mxward-cluster-'));
  cluster = await startPrivatePostgres();
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query('CREATE DATABASE cluster');
  await admin.end();
  storeUrl = cluster.url.replace(/\/postgres$/, '/cluster');
  // contoso.test (ours) publishes SPF without the test client: mail claiming it from 127.0.0.1 is
  // an own-domain spoof and is quarantined. fabrikam.test's SPF passes the test client.
  dns = await startDnsServer([
    'contoso.test. 60 IN TXT "v=spf1 ip4:192.0.2.25 -all"',
    'fabrikam.test. 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"',
  ]);
  downstream = await startCountingDownstream();
  const config = {
    // The slowest poll allowed here: LISTEN/NOTIFY is what makes a change reach every node.
    policyPollMs: 1000,
    auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1 },
    delivery: { default: { type: 'smtp', host: '127.0.0.1', port: downstream.port, starttls: 'off' }, rescanSeconds: 0.1, retryDelaysSeconds: [1] },
    quarantine: { pollMs: 100 },
  };
  // One after another: the first creates the schema, the others find it.
  for (const name of ['node-a', 'node-b', 'node-c']) nodes.push(await startServeNode({ name, root, storeUrl, config }));
  const policy = await nodes[0].cli(['domain', 'add', 'contoso.test']);
  assert.equal(policy.code, 0, policy.stderr);
  const off = await nodes[0].cli(['org', 'set', '--reject-direct-send', 'off', '--reject-direct-send-header-from', 'off', '--wait']);
  assert.equal(off.code, 0, off.stderr);
  store = await PostgresStore.open(storeUrl);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await store?.close();
  await downstream?.close();
  await dns?.close();
  await cluster?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

test('mxward nodes shows all three nodes, live, with their addresses', { skip }, async () => {
  const listed = await waitFor('three live nodes', async () => {
    const view = await nodesJson(nodes[2]);
    return view.nodes.filter((n) => n.live).length === 3 ? view : null;
  });
  assert.deepEqual(listed.nodes.map((n) => n.address).sort(), nodes.map((n) => `127.0.0.1:${n.port}`).sort());
  const table = await nodes[1].cli(['nodes']);
  assert.match(table.stdout, /3 live node\(s\)/);
});

test('a policy change through node A\'s CLI is in force on all three within one second of its commit', { skip }, async () => {
  const set = await nodes[0].cli(['org', 'set', '--reject-direct-send', 'enforce']);
  assert.equal(set.code, 0, set.stderr);
  const version = Number(/policy version (\d+)/.exec(set.stdout)?.[1]);
  assert.ok(version > 0, set.stdout);
  const [commit] = await store!.listAudit(1);
  // Polls each node's own report; no sleeping, no clock but the store's.
  const view = await waitFor('every node reports the new version', async () => {
    const v = await nodesJson(nodes[1]);
    return v.nodes.filter((n) => n.live).every((n) => n.policyVersion >= version) ? v : null;
  });
  for (const n of view.nodes.filter((x) => x.live)) {
    const lagMs = Date.parse(n.policyAppliedAt!) - Date.parse(commit.time);
    assert.ok(lagMs <= 1000, `${n.nodeId} applied version ${version} ${lagMs} ms after the commit`);
  }
  for (const node of nodes) assert.match(await directSendAttempt(node.port) ?? '', /^550 5\.7\.68 /, node.name);
  // Back to report mode for the rest: Direct Send is recorded, not refused.
  const back = await nodes[0].cli(['org', 'set', '--reject-direct-send', 'off', '--wait']);
  assert.equal(back.code, 0, back.stderr);
});

interface Sent { token: string; sender: string; spoof: boolean; code: number; node: number }

async function sendTo(node: ServeNode, index: number, token: string, spoof: boolean): Promise<Sent> {
  const sender = spoof ? `spoof-${token}@contoso.test` : `m-${token}@fabrikam.test`;
  const client = await SmtpClient.connect(node.port);
  try {
    const r = await client.send(sender, ['alice@contoso.test'], testMessage({
      from: `<${sender}>`, to: 'alice@contoso.test', subject: spoof ? `Urgent ${token}` : `Hello ${token}`, headers: [`X-Test-Token: ${token}`],
    }));
    return { token, sender, spoof, code: r.code ?? 0, node: index };
  } finally {
    client.close();
  }
}

test('a message quarantined on node A is released through node C\'s CLI and delivered exactly once', { skip }, async () => {
  const sent = await sendTo(nodes[0], 0, 'held-once', true);
  assert.equal(sent.code, 250);
  const [record] = await waitFor('quarantined on node A', async () => {
    const r = await store!.queryTrace({ sender: sent.sender, limit: 5 });
    return r.length > 0 ? r : null;
  });
  assert.equal(record.verdict, 'quarantine');
  assert.equal(record.node, nodes[0].nodeId);
  const id = record.quarantineId!;
  const released = await nodes[2].cli(['quarantine', 'release', id]);
  assert.equal(released.code, 0, released.stderr);
  await waitFor('delivered', async () => downstream!.seen.get('held-once') === 1, 30_000);
  const again = await nodes[1].cli(['quarantine', 'release', id]);
  assert.notEqual(again.code, 0, 'a second release is refused');
  await waitFor('release traced as delivered', async () => (await store!.queryTrace({ sender: sent.sender, limit: 1 }))[0]?.deliveryStatus === 'delivered', 30_000);
  assert.equal(downstream!.seen.get('held-once'), 1);
});

const LOAD_MESSAGES = 300;
const CLIENTS = 6;
const OUTAGE_MS = 10_000;

test('under load, PostgreSQL down for ten seconds: every 250 delivered once or quarantined, one trace record per transaction', { skip, timeout: 280_000 }, async () => {
  const work = Array.from({ length: LOAD_MESSAGES }, (_, i) => ({ i, token: `load-${i}`, spoof: i % 10 === 7 }));
  const results: Sent[] = [];
  let next = 0;
  let answered = 0;
  const client = async (c: number) => {
    while (next < work.length) {
      const item = work[next++];
      const nodeIndex = (item.i + c) % nodes.length;
      try {
        results.push(await sendTo(nodes[nodeIndex], nodeIndex, item.token, item.spoof));
      } catch {
        // A session cut before any reply is not a transaction the client was told about.
        results.push({ token: item.token, sender: '', spoof: item.spoof, code: 0, node: nodeIndex });
      }
      answered++;
    }
  };
  // The outage begins once a third of the load is answered and lasts OUTAGE_MS (the scenario's
  // length, not a wait for a condition); the clients keep sending throughout.
  const outage = (async () => {
    await waitFor('a third of the load answered', async () => answered >= LOAD_MESSAGES / 3, 120_000);
    await cluster!.stop();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await cluster!.start();
  })();
  await Promise.all([...Array.from({ length: CLIENTS }, (_, c) => client(c)), outage]);

  const accepted = results.filter((r) => r.code === 250);
  assert.ok(accepted.length >= LOAD_MESSAGES * 0.8, `only ${accepted.length} of ${LOAD_MESSAGES} got 250`);
  assert.ok(results.some((r) => r.spoof && r.code === 451), 'some quarantine-bound mail met the outage (451)');
  for (const r of results.filter((x) => x.code !== 250 && x.code !== 0)) assert.ok(r.code >= 400 && r.code < 500, `${r.token}: ${r.code}`);

  // Every node drains its trace outbox and its queue once the database is back.
  await waitFor('queues drained and every node live', async () => {
    const v = await nodesJson(nodes[0]);
    return v.nodes.filter((n) => n.live).length === 3 && v.nodes.every((n) => n.queueDepth === 0);
  }, 120_000);
  for (const r of accepted.filter((x) => !x.spoof)) {
    await waitFor(`${r.token} delivered`, async () => (downstream!.seen.get(r.token) ?? 0) >= 1, 60_000);
  }
  for (const r of results.filter((x) => x.sender)) {
    const records = await waitFor(`${r.token} traced`, async () => {
      const found = await store!.queryTrace({ sender: r.sender, limit: 5 });
      return found.length > 0 ? found : null;
    }, 60_000);
    assert.equal(records.length, 1, `${r.token}: ${records.length} trace records`);
    assert.equal(records[0].node, nodes[r.node].nodeId, `${r.token} names its node`);
    if (r.code !== 250) continue;
    if (r.spoof) {
      // 250 for a quarantine-bound message means it is in the shared quarantine, and not delivered.
      assert.equal(records[0].verdict, 'quarantine', r.token);
      assert.ok(records[0].quarantineId && await stored(records[0].quarantineId), `${r.token} stored in the quarantine`);
      assert.equal(downstream!.seen.get(r.token) ?? 0, 0, `${r.token} not delivered`);
    } else {
      assert.equal(records[0].verdict, 'accept', r.token);
      assert.equal(downstream!.seen.get(r.token), 1, `${r.token} delivered exactly once`);
    }
  }
});

async function stored(quarantineId: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: storeUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query('SELECT 1 FROM quarantine q JOIN quarantine_messages m ON m.quarantine_id = q.id WHERE q.id = $1', [quarantineId]);
    return rows.length === 1;
  } finally {
    await admin.end();
  }
}
