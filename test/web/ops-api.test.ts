// The operations API over real HTTP against a running gateway (issue 13): the message trace with
// filters and cursor pagination, one transaction's full record, the report over an uploaded
// Exchange Online export and over the live trace (merged into the policy through the API), the
// audit with framework and format, and the dashboard after real SMTP traffic. Every route is
// called by every role it names and refused to the others; bad input answers with a field path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { expectError, ok, startWebGateway } from '../helpers/web-client.ts';
import type { ApiResponse, WebClient, WebGateway } from '../helpers/web-client.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { waitFor } from '../helpers/loopback.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

const fixture = (name: string) => new URL(`../fixtures/report/${name}`, import.meta.url);

let gw: WebGateway;
let admin: WebClient;
let helpdesk: WebClient;
let auditor: WebClient;
let recipient: WebClient;


async function send(from: string, subject: string): Promise<TraceRecord> {
  const sent = await sendOne(gw.inbound.port, from, ['alice@contoso.test'], testMessage({ from: `<${from}>`, to: 'alice@contoso.test', subject }));
  assert.match(sent.reply, /^250/, sent.reply);
  return waitFor('the transaction traced', async () => (await gw.store.queryTrace({ limit: 100 })).find((r) => r.subject === subject));
}

const sent: TraceRecord[] = [];

before(async () => {
  gw = await startWebGateway({
    policy: (doc) => ({
      ...doc, rejectDirectSend: 'report', rejectDirectSendHeaderFrom: 'report',
      acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }, { domain: 'contoso.com', includeSubdomains: false, recipients: [] }],
    }),
  });
  admin = await gw.tokenClient('administrator');
  helpdesk = await gw.tokenClient('helpdesk');
  auditor = await gw.tokenClient('auditor');
  recipient = await gw.recipientLinkLogin('alice@contoso.test');
  // Report mode: Direct Send is accepted and traced as would-reject; ordinary mail is accepted.
  sent.push(await send('ceo@contoso.test', 'Direct Send one'));
  sent.push(await send('news@fabrikam.test', 'Newsletter'));
  sent.push(await send('payroll@contoso.test', 'Direct Send two'));
});

after(async () => {
  await gw?.close();
});

test('trace: pages of one follow the cursor through every record once, newest first', async () => {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const res = ok(await helpdesk.get(`/trace?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 'page');
    seen.push(...res.json.items.map((r: TraceRecord) => r.transactionId));
    cursor = res.json.nextCursor;
    if (!cursor) break;
  }
  const expected = [...sent].sort((a, b) => b.time.localeCompare(a.time) || b.transactionId.localeCompare(a.transactionId)).map((r) => r.transactionId);
  assert.deepEqual(seen, expected);
  const all = ok(await auditor.get('/trace?limit=500'), 'all');
  assert.deepEqual(all.json.items.map((r: TraceRecord) => r.transactionId), expected);
  assert.equal(all.json.nextCursor, null);
});

test('trace: each filter selects its records', async () => {
  const ids = async (query: string) => ok(await admin.get(`/trace?${query}`), query).json.items.map((r: TraceRecord) => r.subject).sort();
  assert.deepEqual(await ids('directSend=p1'), ['Direct Send one', 'Direct Send two']);
  assert.deepEqual(await ids('directSend=any'), ['Direct Send one', 'Direct Send two']);
  assert.deepEqual(await ids('directSend=header-from'), []);
  assert.deepEqual(await ids('sender=CEO@'), ['Direct Send one']);
  assert.deepEqual(await ids('recipient=alice'), ['Direct Send one', 'Direct Send two', 'Newsletter']);
  assert.deepEqual(await ids('ip=127.0.0.1&verdict=accept'), ['Direct Send one', 'Direct Send two', 'Newsletter']);
  assert.deepEqual(await ids('verdict=reject'), []);
  assert.deepEqual(await ids('since=1h'), ['Direct Send one', 'Direct Send two', 'Newsletter']);
  assert.deepEqual(await ids(`until=${encodeURIComponent(sent[0].time)}`), []);
  assert.deepEqual(await ids(`since=${encodeURIComponent(sent[1].time)}&until=${encodeURIComponent(sent[2].time)}`), ['Newsletter']);
});

test('trace: one transaction\'s full record with its rule hits; unknown ids and bad input are clear errors', async () => {
  const one = ok(await auditor.get(`/trace/${sent[0].transactionId}`), 'one');
  assert.equal(one.json.transactionId, sent[0].transactionId);
  assert.equal(one.json.directSend, 'p1');
  assert.equal(one.json.directSendWouldReject, true);
  assert.ok(one.json.hits.length > 0);
  assert.ok('deliveryAttempts' in one.json);
  expectError(await admin.get('/trace/no-such-transaction'), 404, 'not_found');
  expectError(await admin.get('/trace?limit=501'), 400, 'validation_failed', 'query.limit');
  expectError(await admin.get('/trace?cursor=not-a-cursor'), 400, 'validation_failed', 'query.cursor');
  expectError(await admin.get('/trace?since=last%20tuesday'), 400, 'validation_failed', 'query.since');
  expectError(await admin.get('/trace?verdict=maybe'), 400, 'validation_failed', 'query.verdict');
  expectError(await admin.get('/trace?directSend=yes'), 400, 'validation_failed', 'query.directSend');
  expectError(await admin.get('/trace?color=red'), 400, 'validation_failed');
  expectError(await admin.get(`/trace?since=${encodeURIComponent(sent[2].time)}&until=${encodeURIComponent(sent[0].time)}`), 400, 'validation_failed', 'query.until');
  expectError(await recipient.get('/trace'), 403, 'forbidden');
  expectError(await recipient.get(`/trace/${sent[0].transactionId}`), 403, 'forbidden');
  expectError(await gw.client().get('/trace'), 401, 'unauthenticated');
});

test('report over an uploaded message trace export: detected format, evidence, and a fragment /policy/merge accepts', async () => {
  const csv = await readFile(fixture('message-trace-v2.csv'));
  const res = ok(await auditor.api('POST', '/report?filename=trace.csv&knownSenders=203.0.113.10%3Dprinter', { raw: csv, contentType: 'text/csv' }), 'report');
  assert.deepEqual(res.json.report.inputs, [{ file: 'trace.csv', format: 'message-trace-v2', rows: 16 }]);
  assert.ok(res.json.report.totals.wouldReject > 0);
  const printer = res.json.report.sources.find((s: { ip: string }) => s.ip === '203.0.113.10');
  assert.equal(printer.label, 'authorised');
  assert.equal(res.json.policyFragment.connectors.length, 1);
  assert.deepEqual(res.json.policyFragment.connectors[0].senderIPAddresses, ['203.0.113.10/32']);
  // SPF as evidence, and list parameters repeated rather than comma-separated.
  const spf = encodeURIComponent('contoso.com="v=spf1 ip4:203.0.113.0/24 -all"');
  const bySpf = ok(await admin.api('POST', `/report?spf=${spf}&dmarc=contoso.com%3Dreject&dmarc=fabrikam.com%3Dnone`, { raw: csv, contentType: 'text/csv' }), 'spf');
  assert.equal(bySpf.json.report.sources.find((s: { ip: string }) => s.ip === '203.0.113.10').label, 'authorised');
  assert.ok(bySpf.json.policyFragment.connectors.length >= 1);
  // Without positive evidence nothing is recommended (SPEC §11).
  const bare = ok(await admin.api('POST', '/report', { raw: csv, contentType: 'text/csv' }), 'bare');
  assert.deepEqual(bare.json.policyFragment.connectors, []);
  assert.deepEqual(bare.json.report.inputs.map((i: { file: string }) => i.file), ['upload']);
  // The administrator merges the recommendation through the policy API.
  const merged = await admin.post('/policy/merge', { fragment: res.json.policyFragment });
  assert.equal(merged.status, 200, merged.text);
  const stored = await gw.store.readPolicy();
  assert.ok(stored.document.connectors.some((c) => c.senderIPAddresses.includes('203.0.113.10/32')));
});

test('report: other export formats, wrong uploads and roles', async () => {
  const events = ok(await admin.api('POST', '/report?name=events.json', { raw: await readFile(fixture('emailevents.json')), contentType: 'application/json' }), 'EmailEvents');
  assert.deepEqual([events.json.report.inputs[0].file, events.json.report.inputs[0].format], ['events.json', 'defender-emailevents']);
  const utf16 = ok(await admin.api('POST', '/report?filename=eac.csv', { raw: await readFile(fixture('eac-extended-utf16.csv')), contentType: 'text/csv' }), 'EAC UTF-16');
  assert.equal(utf16.json.report.inputs[0].format, 'eac-trace');
  const broken = ok(await admin.api('POST', '/report?filename=junk.csv', { raw: 'this is not an export\nat all\n', contentType: 'text/csv' }), 'junk');
  assert.ok(broken.json.report.problems.count > 0);
  assert.equal(broken.json.report.problems.shown[0].file, 'junk.csv');
  expectError(await admin.api('POST', '/report', { raw: 'a,b\n', contentType: 'image/png' }), 415, 'unsupported_media_type');
  expectError(await admin.api('POST', '/report?dateFormat=ymd', { raw: 'a,b\n', contentType: 'text/csv' }), 400, 'validation_failed', 'query.dateFormat');
  expectError(await admin.api('POST', '/report?knownSenders=not-an-ip', { raw: 'a,b\n', contentType: 'text/csv' }), 400, 'validation_failed', 'query.knownSenders');
  expectError(await admin.api('POST', '/report?dmarc=contoso.test%3Dmaybe', { raw: 'a,b\n', contentType: 'text/csv' }), 400, 'validation_failed', 'query.dmarc');
  expectError(await helpdesk.api('POST', '/report', { raw: 'a,b\n', contentType: 'text/csv' }), 403, 'forbidden');
  expectError(await recipient.api('POST', '/report', { raw: 'a,b\n', contentType: 'text/csv' }), 403, 'forbidden');
});

test('report over the live trace counts the traffic just sent', async () => {
  const live = ok(await helpdesk.get('/report/live?since=1h'), 'live');
  assert.equal(live.json.report.totals.rows, sent.length);
  assert.equal(live.json.report.totals.wouldReject, 2);
  assert.equal(live.json.report.inputs[0].format, 'mxward-trace');
  expectError(await admin.get('/report/live?since=soon'), 400, 'validation_failed', 'query.since');
  expectError(await recipient.get('/report/live'), 403, 'forbidden');
});

test('analyze one uploaded message against the stored accepted domains', async () => {
  const eml = await readFile(new URL('../fixtures/report/messages/direct-send-spoof.eml', import.meta.url));
  const res = ok(await helpdesk.api('POST', '/analyze', { raw: eml, contentType: 'message/rfc822' }), 'analyze');
  assert.equal(res.json.analysis.classification.kind, 'direct-send');
  assert.equal(res.json.analysis.classification.wouldReject, true);
  assert.equal(res.json.analysis.acceptedDomainsAssumed, false);
  assert.ok(res.json.analysis.acceptedDomains.includes('contoso.com'));
  const elsewhere = ok(await admin.api('POST', '/analyze?acceptedDomains=fabrikam.test', { raw: eml, contentType: 'message/rfc822' }), 'other org');
  assert.equal(elsewhere.json.analysis.classification.wouldReject, false);
  expectError(await admin.api('POST', '/analyze', { raw: '\r\n\r\njust a body\r\n', contentType: 'text/plain' }), 400, 'validation_failed', 'body');
  expectError(await recipient.api('POST', '/analyze', { raw: eml, contentType: 'message/rfc822' }), 403, 'forbidden');
});

test('audit: uploaded exports with framework and format, the stored policy, and bad uploads', async () => {
  const org = await readFile(fixture('organization-config-utf16.json'));
  const connectors = await readFile(fixture('inbound-connectors.json'), 'utf8');
  const json = ok(await auditor.post('/audit', { exports: [{ name: 'org.json', base64: org.toString('base64') }, { name: 'connectors.json', text: connectors }] }), 'audit json');
  assert.equal(typeof json.json.passed, 'boolean');
  assert.equal(json.json.rendered, null);
  assert.ok(json.json.checks.some((c: { status: string }) => c.status !== 'skip'));
  const sarif = ok(await admin.post('/audit', { framework: 'cis', format: 'sarif', exports: [{ name: 'org.json', base64: org.toString('base64') }] }), 'sarif');
  assert.equal(sarif.json.framework, 'cis');
  assert.equal(JSON.parse(sarif.json.rendered).version, '2.1.0');
  const junit = ok(await admin.post('/audit', { format: 'junit' }), 'junit, own policy only');
  assert.match(junit.json.rendered, /^<\?xml/);
  expectError(await admin.post('/audit', { exports: [{ name: 'x.json', text: '{"Hello": 1}' }] }), 400, 'validation_failed', 'body.exports[0]');
  expectError(await admin.post('/audit', { exports: [{ name: 'x.json' }] }), 400, 'validation_failed');
  expectError(await admin.post('/audit', { framework: 'iso27001' }), 400, 'validation_failed', 'body.framework');
  expectError(await helpdesk.post('/audit', {}), 403, 'forbidden');
});

test('dashboard after real SMTP traffic: would-reject sources over time, verdicts, connectors, and what enforcing would refuse', async () => {
  const res = ok(await auditor.get('/dashboard?since=1h&bucket=5m'), 'dashboard');
  const d = res.json;
  assert.equal(d.window.records, sent.length);
  assert.equal(d.directSend.length, 12);
  assert.equal(d.directSend.reduce((n: number, b: { wouldReject: number }) => n + b.wouldReject, 0), 2);
  assert.equal(d.verdicts.accept, 3);
  assert.deepEqual(d.connectors, []);
  const refused = [...d.enforceNow.likelyAttacks, ...d.enforceNow.unknown];
  assert.ok(refused.some((s: { ip: string; wouldReject: number }) => s.ip === '127.0.0.1' && s.wouldReject === 2), JSON.stringify(d.enforceNow));
  assert.deepEqual(d.enforceNow.mayNeed, [], 'no evidence, so no source is one "you may need"');
  assert.equal(typeof d.quarantine.byState.held, 'number');

  // A connector for the loopback sender: the next message is attributed to it, and counted.
  await gw.setPolicy((doc) => ({ ...doc, connectors: [...doc.connectors, {
    name: 'loopback-partner', type: 'partner', enabled: true, senderDomains: ['fabrikam.test'], senderIPAddresses: ['127.0.0.1/32'],
    tlsSenderCertificateName: null, restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false,
  } as never] }));
  const partner = await send('news@fabrikam.test', 'Partner mail');
  assert.equal(partner.connector, 'loopback-partner');
  const after = ok(await helpdesk.get('/dashboard?since=2h&bucket=1h'), 'dashboard again').json;
  assert.deepEqual(after.connectors, [{ name: 'loopback-partner', transactions: 1 }]);
  assert.equal(after.directSend.length, 2);

  expectError(await admin.get('/dashboard?since=40d&bucket=1d'), 400, 'validation_failed', 'query.since');
  expectError(await admin.get('/dashboard?since=7d&bucket=1m'), 400, 'validation_failed', 'query.bucket');
  expectError(await admin.get('/dashboard?bucket=2h'), 400, 'validation_failed', 'query.bucket');
  expectError(await recipient.get('/dashboard'), 403, 'forbidden');
});

test('the OpenAPI document lists every operations route', async () => {
  const doc = ok(await gw.client().fetch('GET', '/api/v1/openapi.json'), 'openapi').json;
  for (const path of ['/trace', '/trace/{transactionId}', '/quarantine', '/quarantine/{id}', '/quarantine/{id}/preview', '/quarantine/{id}/headers',
    '/quarantine/{id}/release', '/quarantine/{id}/request-release', '/quarantine/{id}/approve', '/quarantine/{id}/deny', '/report', '/report/live', '/analyze', '/audit', '/dashboard']) {
    assert.ok(doc.paths[`/api/v1${path}`], `${path} in the OpenAPI document`);
  }
});
