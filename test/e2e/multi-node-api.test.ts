// The queue and nodes over the admin API on two nodes sharing PostgreSQL (issues 13 and 14): the
// API of node B lists node A's queue (allNodes), a helpdesk token retries A's message through B
// (A delivers it), deletes another, and the roles hold: an auditor reads but cannot act, a
// recipient sees neither the queue nor the nodes. Bad ids are a JSON error with the field path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { bySubject, startCountingDownstream } from '../helpers/counting-downstream.ts';
import type { Downstream } from '../helpers/counting-downstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { WebClient, WebGateway } from '../helpers/web-client.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { freePort, waitFor } from '../helpers/loopback.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
let nodeA: TestGateway;
let nodeB: WebGateway;
let downstreamPort: number;
let downstream: Downstream | null = null;
const arrived = new Map<string, number>();

interface Entry { queueId: string; node: string | null; mailFrom: string; status: string }

before(async () => {
  if (typeof db === 'string') return;
  downstreamPort = await freePort();
  const policy = (doc: PolicyDocument): PolicyDocument => ({
    ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off',
    acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }],
  });
  nodeA = await startTestGateway({
    config: { store: { url: db.url }, delivery: { default: { type: 'smtp', host: '127.0.0.1', port: downstreamPort, starttls: 'off' }, retryDelaysSeconds: [3600], rescanSeconds: 0.1 } },
    policy,
  });
  nodeB = await startWebGateway({ config: { store: { url: db.url }, delivery: { rescanSeconds: 0.1 } } });
});
after(async () => {
  await nodeA?.close();
  await nodeB?.close();
  if (downstream) await downstream.close();
  if (typeof db !== 'string') await db.drop();
});

async function startDownstream(): Promise<void> {
  downstream = await startCountingDownstream({ port: downstreamPort, keyOf: bySubject, seen: arrived });
}

async function queueOnA(client: WebClient, subject: string): Promise<string> {
  const sender = `${subject}@fabrikam.test`;
  const r = await sendOne(nodeA.inbound.port, sender, ['alice@contoso.test'], testMessage({ from: `<${sender}>`, to: 'alice@contoso.test', subject }));
  assert.equal(r.code, 250, r.reply);
  const entry = await waitFor(`${subject} published by node A`, async () => {
    const res = await client.get<{ entries: Entry[] }>('/queue?allNodes=true');
    assert.equal(res.status, 200, res.text);
    return res.json.entries.find((e) => e.mailFrom === sender && e.status === 'deferred');
  }, 15_000);
  return entry.queueId;
}

test('GET /queue?allNodes shows node A\'s message on node B; a helpdesk retry through B is delivered by A once', { skip }, async () => {
  const helpdesk = await nodeB.tokenClient('helpdesk');
  const auditor = await nodeB.tokenClient('auditor');
  const queueId = await queueOnA(auditor, 'api-retried');
  const idOfA = ((await nodeA.store.listNodes?.()) ?? []).find((n) => n.address === `127.0.0.1:${nodeA.inbound.port}`)!.nodeId;
  const all = await auditor.get<{ entries: Entry[] }>('/queue?allNodes=true');
  assert.equal(all.json.entries.find((e) => e.queueId === queueId)?.node, idOfA);
  // Without allNodes: node B's own spool, which does not hold it.
  const own = await auditor.get<{ entries: Entry[] }>('/queue');
  assert.deepEqual(own.json.entries, []);
  const shown = await auditor.get<Entry>(`/queue/${queueId}`);
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.json.node, idOfA);
  assert.equal((await auditor.get('/queue/ZZZZZZZZZZ')).status, 404);

  // The auditor reads only.
  const refused = await auditor.post(`/queue/${queueId}/retry`);
  assert.equal(refused.status, 403, refused.text);

  await startDownstream();
  const retried = await helpdesk.post<{ done: string[]; nodes: Array<{ node: string | null; done: string[] }> }>(`/queue/${queueId}/retry`);
  assert.equal(retried.status, 200, retried.text);
  assert.deepEqual(retried.json.done, [queueId]);
  assert.deepEqual(retried.json.nodes.find((n) => n.node === idOfA)?.done, [queueId]);
  await waitFor('delivered by node A', async () => arrived.get('api-retried') === 1, 15_000);
  const audit = await nodeA.store.listAudit(20);
  assert.ok(audit.some((a) => a.action === 'queue.retry' && /^api:/.test(a.actor)), JSON.stringify(audit.map((a) => [a.actor, a.action])));
});

test('DELETE /queue/:id removes node A\'s message; unknown and malformed ids are JSON errors', { skip }, async () => {
  await downstream!.close();
  downstream = null;
  const helpdesk = await nodeB.tokenClient('helpdesk');
  const queueId = await queueOnA(helpdesk, 'api-deleted');
  const deleted = await helpdesk.delete<{ done: string[] }>(`/queue/${queueId}`);
  assert.equal(deleted.status, 200, deleted.text);
  assert.deepEqual(deleted.json.done, [queueId]);
  await waitFor('gone from every published queue', async () => !(await helpdesk.get<{ entries: Entry[] }>('/queue?allNodes=true')).json.entries.some((e) => e.queueId === queueId), 15_000);

  const unknown = await helpdesk.delete('/queue/ZZZZZZZZZZ');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'not_found');
  const malformed = await helpdesk.post('/queue/not-an-id/retry');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.error.code, 'validation_failed');
  assert.match(malformed.json.error.path ?? '', /id/);
  const flushed = await helpdesk.post<{ nodes: Array<{ node: string | null; unanswered?: boolean }> }>('/queue/flush', { allNodes: true });
  assert.equal(flushed.status, 200, flushed.text);
  assert.equal(flushed.json.nodes.filter((n) => n.node !== null && !n.unanswered).length, 2);
});

test('GET /nodes lists both nodes for administrator, helpdesk and auditor, not for a recipient', { skip }, async () => {
  for (const role of ['administrator', 'helpdesk', 'auditor'] as const) {
    const client = await nodeB.tokenClient(role);
    const res = await client.get<{ policyVersion: number; nodes: Array<{ address: string; live: boolean; policyVersion: number }> }>('/nodes');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.nodes.map((n) => n.address).sort(), [nodeA, nodeB].map((g) => `127.0.0.1:${g.inbound.port}`).sort());
    assert.ok(res.json.nodes.every((n) => n.live));
  }
  const recipient = await nodeB.recipientLinkLogin('alice@contoso.test');
  assert.equal((await recipient.get('/nodes')).status, 403);
  assert.equal((await recipient.get('/queue')).status, 403);
});
