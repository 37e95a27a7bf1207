// Issue 16, metrics and logs: real SMTP traffic (nodemailer, a real client) through the real
// listener, then the admin port scraped as Prometheus would and the counts checked; the outcome
// log lines checked for their trace and queue ids and for the absence of the message body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import nodemailer from 'nodemailer';
import pino from 'pino';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/loopback.ts';

const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _e, done) {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({
    logger: pino({ level: 'info' }, sink),
    config: { admin: { host: '127.0.0.1', port: 0 } },
    policy: (doc) => ({ ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => { await gw.close(); });

const BODY = 'Please pay invoice 4711 today.';

async function send(from: string, to: string): Promise<'accepted' | 'refused'> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: 'client.test' });
  try {
    await transport.sendMail({ envelope: { from, to: [to] }, from, to, subject: 'Invoice', text: BODY });
    return 'accepted';
  } catch (err) {
    if ((err as { responseCode?: number }).responseCode === 550) return 'refused';
    throw err;
  } finally {
    transport.close();
  }
}

async function scrape(path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${gw.admin!.address.port}${path}`);
  return { status: response.status, text: await response.text() };
}

function sample(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

test('the admin port counts transactions, replies and deliveries of real SMTP traffic', async () => {
  assert.equal(await send('ceo@contoso.test', 'alice@contoso.test'), 'refused');
  assert.equal(await send('cfo@contoso.test', 'bob@contoso.test'), 'refused');
  assert.equal(await send('sales@fabrikam.test', 'alice@contoso.test'), 'accepted');

  const metrics = await waitFor('three transactions and one delivery counted', async () => {
    const { text } = await scrape('/metrics');
    const delivered = sample(text, 'mxward_delivery_attempts_total', { outcome: 'delivered' });
    const refused = sample(text, 'mxward_transactions_total', { verdict: 'reject', direct_send: 'p1', connector: 'none' });
    return delivered === 1 && refused === 2 ? text : null;
  });
  assert.equal(sample(metrics, 'mxward_transactions_total', { verdict: 'accept', direct_send: 'none', connector: 'none' }), 1);
  assert.equal(sample(metrics, 'mxward_smtp_replies_total', { code: '550' }), 2);
  assert.equal(sample(metrics, 'mxward_smtp_replies_total', { code: '250' }), 1);
  assert.equal(sample(metrics, 'mxward_policy_version', {}), gw.livePolicy.current().version);
  assert.equal(sample(metrics, 'mxward_queue_messages', {}), 0, 'the delivered message left the queue');
  assert.equal(sample(metrics, 'mxward_store_up', {}), 1);
  assert.ok(sample(metrics, 'process_resident_memory_bytes', {})! > 0, 'process metrics are exported');
  assert.match(metrics, /# TYPE mxward_dns_lookup_duration_seconds histogram/);
  assert.match(metrics, /# TYPE mxward_auth_results_total counter/);
});

test('one info line per outcome, with trace and queue ids, never the body', async () => {
  const outcome = (event: string) => lines.filter((l) => l.stage === 'transaction' && l.event === event);
  const refused = outcome('refused');
  assert.equal(refused.length, 2);
  for (const line of refused) {
    assert.equal(line.level, 30);
    assert.match(String(line.reply), /^550 5\.7\.68 /);
    assert.match(String(line.traceId), /\S/);
  }
  const [accepted] = outcome('accepted');
  assert.match(String(accepted.queueId), /\S/);
  const [delivered] = await waitFor('delivery line', async () => outcome('delivered').length ? outcome('delivered') : null);
  assert.equal(delivered.queueId, accepted.queueId);
  assert.equal(delivered.traceId, accepted.traceId, 'the delivery line names the transaction it finishes');
  const [record] = await gw.store.queryTrace({ sender: 'sales@fabrikam.test', limit: 1 });
  assert.equal(accepted.traceId, record.transactionId, 'the trace id is the trace record\'s');
  const everything = JSON.stringify(lines);
  assert.ok(!everything.includes('4711'), 'a log line carries part of the message body');
  assert.ok(!everything.includes('Invoice'), 'a log line carries the subject');
});

test('/healthz and /readyz answer on the running gateway', async () => {
  assert.deepEqual(await scrape('/healthz'), { status: 200, text: 'ok\n' });
  const ready = await scrape('/readyz');
  assert.equal(ready.status, 200, ready.text);
  assert.match(ready.text, /listeners: ok\nstore: ok\nspool: ok/);
  assert.equal((await scrape('/nope')).status, 404);
});

test('/readyz is 503 naming each failed check, a hung one included', async () => {
  const { startAdminServer } = await import('../../src/observability/admin-server.ts');
  const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, gw.metrics, [
    { name: 'listeners', probe: async () => {} },
    { name: 'store', probe: async () => { throw new Error('connection refused'); } },
    { name: 'spool', probe: () => new Promise<void>(() => {}) },
  ]);
  try {
    const response = await fetch(`http://127.0.0.1:${admin.address.port}/readyz`);
    const text = await response.text();
    assert.equal(response.status, 503);
    assert.match(text, /^not ready\nstore: connection refused\nspool: no answer in \d+ ms\n$/);
  } finally {
    await admin.close();
  }
});
