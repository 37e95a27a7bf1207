// A network partition between a node and its PostgreSQL (issue 14): unlike a stopped server, a
// partitioned one refuses nothing, it just never answers. The node reaches the database through a
// TCP proxy on 127.0.0.1 that the test can freeze: connections stay open, nothing moves either
// way, as when packets are dropped; on heal the held bytes flow on, as TCP retransmission would
// deliver them. While frozen the node must not hang: the pool's connect and statement bounds
// (store/postgres/pool.ts) turn the silence into an outage, so mail still gets 250 (trace in the
// local outbox) and a message that must be quarantined gets 451. After heal the trace is complete.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';
import { holdMarked } from '../helpers/hold-check.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';

interface FreezingProxy {
  port: number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:port to the target; frozen, it holds every byte (and new connections) until thawed. */
async function startFreezingProxy(targetHost: string, targetPort: number): Promise<FreezingProxy> {
  let frozen = false;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (frozen) { client.pause(); upstream.pause(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) { a.pause(); b.pause(); }
    },
    thaw() {
      frozen = false;
      for (const [a, b] of pairs) { a.resume(); b.resume(); }
    },
    close() {
      for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
let proxy: FreezingProxy | null = null;
let node: TestGateway | null = null;

before(async () => {
  if (typeof db === 'string') return;
  const target = new URL(db.url);
  proxy = await startFreezingProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  node = await startTestGateway({
    config: { store: { url: viaProxy.toString() }, quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
    endOfDataChecks: [holdMarked],
    policy: (doc: PolicyDocument): PolicyDocument => ({
      ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off',
      acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
    }),
  });
});
after(async () => {
  proxy?.thaw();
  await node?.close();
  await proxy?.close();
  if (typeof db !== 'string') await db.drop();
});

// Bounded by the test's own timeout: without the pool's bounds the first send hangs for minutes.
test('a partitioned node still answers: 250 with the trace kept locally, 451 for what must be quarantined, trace complete after heal', { skip, timeout: 120_000 }, async () => {
  const send = (sender: string, to: string, subject: string) =>
    sendOne(node!.inbound.port, sender, [to], testMessage({ from: `<${sender}>`, to, subject }));
  const before = await send('before@fabrikam.test', 'alice@contoso.test', 'before the partition');
  assert.equal(before.code, 250, before.reply);

  proxy!.freeze();
  const senders = ['p1@fabrikam.test', 'p2@fabrikam.test', 'p3@fabrikam.test'];
  for (const sender of senders) {
    const r = await send(sender, 'alice@contoso.test', `during the partition ${sender}`);
    assert.equal(r.code, 250, r.reply);
  }
  const held = await send('held@fabrikam.test', 'bob@contoso.test', 'Invoice [hold]');
  assert.match(held.reply, /^451 4\.3\.0 /);
  await waitForMaildir(node!.dataDir, 'alice@contoso.test', 1 + senders.length);
  assert.ok(node!.traceOutbox!.pending() >= senders.length, `outbox holds ${node!.traceOutbox!.pending()}`);

  proxy!.thaw();
  await waitFor('outbox drained', async () => node!.traceOutbox!.pending() === 0, 60_000);
  for (const sender of [...senders, 'before@fabrikam.test']) {
    const records = await node!.store.queryTrace({ sender, limit: 10 });
    assert.equal(records.length, 1, `${sender}: ${records.length} trace records`);
    assert.equal(records[0].verdict, 'accept');
  }
  const heldTrace = await node!.store.queryTrace({ sender: 'held@fabrikam.test', limit: 10 });
  assert.deepEqual(heldTrace.map((r) => r.verdict), ['tempfail']);
  assert.equal((await maildirMessages(node!.dataDir, 'bob@contoso.test')).length, 0);
});
