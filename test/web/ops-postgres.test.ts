// The operations API on PostgreSQL (issue 13): the trace is searched on the gateway's own pool,
// the dashboard and the live report open their own connections on worker threads, and the
// quarantine list and a release go through the shared store. Real SMTP traffic, real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from '../helpers/postgres.ts';
import { ok, startWebGateway } from '../helpers/web-client.ts';
import type { ApiResponse, WebClient, WebGateway } from '../helpers/web-client.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { holdMarked } from '../helpers/hold-check.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;

let gw: WebGateway;
let admin: WebClient;
const sent: TraceRecord[] = [];

async function send(from: string, subject: string): Promise<TraceRecord> {
  const result = await sendOne(gw.inbound.port, from, ['alice@contoso.test'], testMessage({ from: `<${from}>`, to: 'alice@contoso.test', subject }));
  assert.match(result.reply, /^250/, result.reply);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = (await gw.store.queryTrace({ limit: 100 })).find((r) => r.subject === subject);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no trace record for ${subject}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

before(async () => {
  if (typeof db === 'string') return;
  gw = await startWebGateway({
    config: { store: { url: db.url }, quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
    endOfDataChecks: [holdMarked],
    policy: (doc) => ({ ...doc, rejectDirectSend: 'report', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
  admin = await gw.tokenClient('administrator');
  sent.push(await send('ceo@contoso.test', 'PG Direct Send'));
  sent.push(await send('news@fabrikam.test', 'PG newsletter [hold]'));
  sent.push(await send('hr@contoso.test', 'PG Direct Send again'));
});

after(async () => {
  if (typeof db === 'string') return;
  await gw?.close();
  await db.drop();
});

test('trace pages, one record, dashboard and live report on PostgreSQL', { skip }, async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res = ok(await admin.get(`/trace?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 'page');
    seen.push(...res.json.items.map((r: TraceRecord) => r.transactionId));
    cursor = res.json.nextCursor;
  } while (cursor && seen.length < 20);
  assert.deepEqual(seen, [...sent].sort((a, b) => b.time.localeCompare(a.time) || b.transactionId.localeCompare(a.transactionId)).map((r) => r.transactionId));
  assert.equal(ok(await admin.get(`/trace/${sent[0].transactionId}`), 'one').json.subject, 'PG Direct Send');
  assert.deepEqual(ok(await admin.get('/trace?directSend=p1'), 'p1').json.items.map((r: TraceRecord) => r.subject).sort(), ['PG Direct Send', 'PG Direct Send again']);

  const d = ok(await admin.get('/dashboard?since=1h&bucket=15m'), 'dashboard').json;
  assert.equal(d.window.records, 3);
  assert.equal(d.directSend.reduce((n: number, b: { wouldReject: number }) => n + b.wouldReject, 0), 2);
  assert.deepEqual([d.verdicts.accept, d.verdicts.quarantine], [2, 1]);
  assert.equal(d.quarantine.byState.held, 1);

  const live = ok(await admin.get('/report/live?since=1h'), 'live report').json;
  assert.equal(live.report.totals.rows, 3);
  assert.equal(live.report.totals.wouldReject, 2);
});

test('quarantine on PostgreSQL: listed and released once through the API', { skip }, async () => {
  const list = ok(await admin.get('/quarantine'), 'list').json;
  assert.equal(list.items.length, 1);
  const id = list.items[0].id;
  const released = ok(await admin.post(`/quarantine/${id}/release`), 'release').json;
  assert.deepEqual(released.recipients, ['alice@contoso.test']);
  assert.equal((await admin.post(`/quarantine/${id}/release`)).status, 409);
  const delivered = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 3);
  assert.equal(delivered.filter((m) => /^Subject: PG newsletter \[hold\]/m.test(m)).length, 1);
});
