// Two gateway nodes while their PostgreSQL is down (issue 14, docs/cluster.md). The test runs
// its own private cluster, stops it mid-test and starts it again: meanwhile each node keeps
// accepting mail under the policy it had (250, delivered), answers 451 4.3.0 for a message that
// must be quarantined (the quarantine cannot be stored, so nothing may be acknowledged), and keeps
// every trace record on local disk. Once PostgreSQL is back the trace is complete, one record per
// transaction, and `nodes` shows the outage each node lived through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { postgresBinDir, startPrivatePostgres } from '../helpers/private-postgres.ts';
import type { PrivatePostgres } from '../helpers/private-postgres.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';
import { holdMarked } from '../helpers/hold-check.ts';

const skip = postgresBinDir() === null && process.env.CI !== 'true' ? 'no PostgreSQL binaries (Debian package postgresql)' : false;
let cluster: PrivatePostgres;
const nodes: TestGateway[] = [];


before(async () => {
  if (skip) return;
  cluster = await startPrivatePostgres();
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query('CREATE DATABASE outage');
  await admin.end();
  const url = cluster.url.replace(/\/postgres$/, '/outage');
  for (let i = 0; i < 2; i++) {
    nodes.push(await startTestGateway({
      config: { store: { url }, quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
      endOfDataChecks: [holdMarked],
      policy: i === 0 ? (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }) : undefined,
    }));
  }
  const version = (await nodes[0].store.readPolicy()).version;
  await nodes[1].livePolicy.waitForVersion(version);
});
after(async () => {
  for (const n of nodes) await n.close();
  await cluster?.dispose();
});

const PER_NODE = 5;

test('while PostgreSQL is down: 250 and delivery under the last policy, 451 for what must be quarantined, the trace replayed afterwards', { skip }, async () => {
  await cluster.stop();
  const sent: Array<{ node: number; sender: string }> = [];
  for (const [n, node] of nodes.entries()) {
    for (let i = 0; i < PER_NODE; i++) {
      const sender = `n${n}m${i}@fabrikam.test`;
      const r = await sendOne(node.inbound.port, sender, ['alice@contoso.test'], testMessage({ from: `<${sender}>`, to: 'alice@contoso.test', subject: `outage ${n}.${i}` }));
      assert.equal(r.code, 250, r.reply);
      sent.push({ node: n, sender });
    }
    const held = await sendOne(node.inbound.port, `hold${n}@fabrikam.test`, ['bob@contoso.test'], testMessage({ from: `<hold${n}@fabrikam.test>`, to: 'bob@contoso.test', subject: 'Invoice [hold]' }));
    assert.equal(held.code, 451, held.reply);
    assert.match(held.reply, /^451 4\.3\.0 /);
  }
  // Delivered while the database is still down; the trace waits on each node's disk.
  for (const node of nodes) await waitForMaildir(node.dataDir, 'alice@contoso.test', PER_NODE);
  for (const node of nodes) assert.ok(node.traceOutbox!.pending() >= PER_NODE + 1, `outbox holds ${node.traceOutbox!.pending()}`);
  await assert.rejects(nodes[0].store.queryTrace({ limit: 1 }));

  // Each node's heartbeat meets the outage (its timer may not have fired in so short a window).
  for (const node of nodes) assert.equal(await node.heartbeat.beat(), false);
  await cluster.start();
  for (const node of nodes) await waitFor('outbox drained', async () => node.traceOutbox!.pending() === 0, 20_000);
  for (const { node, sender } of sent) {
    const records = await nodes[1 - node].store.queryTrace({ sender, limit: 10 });
    assert.equal(records.length, 1, `${sender}: ${records.length} trace records`);
    assert.equal(records[0].verdict, 'accept');
    // Delivery updates made during the outage were replayed after their record.
    assert.equal(records[0].deliveryStatus, 'delivered', sender);
  }
  for (const n of [0, 1]) {
    const held = await nodes[0].store.queryTrace({ sender: `hold${n}@fabrikam.test`, limit: 10 });
    assert.deepEqual(held.map((r) => r.verdict), ['tempfail']);
    assert.equal((await maildirMessages(nodes[n].dataDir, 'bob@contoso.test')).length, 0);
  }
  // Each node reports the outage it lived through once its heartbeat reaches the store again.
  const listed = await waitFor('both nodes report their outage', async () => {
    const rows = await nodes[0].store.listNodes!();
    return rows.length === 2 && rows.every((r) => r.storeOutage !== null) ? rows : null;
  }, 20_000);
  for (const row of listed) assert.match(row.storeOutage!, /^unreachable from \S+ to \S+$/);
});
