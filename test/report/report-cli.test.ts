// `mxward report` as a user runs it (a real process): kinds, impact, suggested connectors,
// --what-if, every output format, the trace store, and bad input answered without a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward } from '../helpers/commands.ts';
import { fixture, hasStackTrace } from './helpers.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { dataPaths } from '../../src/config/data-dir.ts';
import { defaultPolicy } from '../../src/config/policy-schema.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

const dataDir = await mkdtemp(join(tmpdir(), 'mxward-report-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));

const traffic = ['message-trace-v2.csv', 'eac-extended-utf16.csv', 'emailevents.csv', 'messages/direct-send-spoof.eml', 'messages/two-messages.mbox'].map(fixture);
const org = ['--accepted-domain', 'contoso.com', '--connectors', fixture('inbound-connectors.json')];
// Issue 12: a connector needs positive evidence; here the administrator names the printers' network.
const evidence = ['--known-sender', '203.0.113.0/24=office-printers'];

test('mixed inputs: kinds, impact per source, labels and a suggested connector', async () => {
  const r = await mxward(dataDir, ['report', ...traffic, ...org, ...evidence, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(r.stdout);
  assert.equal(model.totals.rows, 16 + 4 + 5 + 1 + 2);
  assert.deepEqual(model.inputs.map((i: { format: string }) => i.format).sort(), ['defender-emailevents', 'eac-trace', 'mail-headers', 'mail-headers', 'message-trace-v2']);
  const byKey = new Map(model.sources.map((s: { key: string }) => [s.key, s]));
  const printer = byKey.get('203.0.113.10') as { label: string; wouldReject: number };
  assert.equal(printer.label, 'authorised');
  assert.equal(printer.wouldReject, 7);
  const spam = byKey.get('198.51.100.7') as { label: string; reasons: string[] };
  assert.equal(spam.label, 'suspicious');
  assert.ok(spam.reasons.some((x) => /lure subjects \(5\)/.test(x)), spam.reasons.join('; '));
  const crm = byKey.get('192.0.2.25') as { wouldReject: number; kinds: Record<string, number> };
  assert.equal(crm.wouldReject, 0, 'the CRM connector covers its IP');
  assert.equal(model.totals.kinds['header-from'], 2, 'EmailEvents + mbox payroll spoof');
  assert.equal(model.recommendations.length, 1);
  const rec = model.recommendations[0];
  assert.equal(rec.name, 'DirectSend-office-printers-203.0.113.0-24', 'named after what it holds');
  assert.deepEqual(rec.senderIPAddresses, ['203.0.113.0/24'], 'the range the administrator named');
  assert.deepEqual(rec.sources, ['203.0.113.10', '203.0.113.11']);
  assert.match(rec.powershell, /^New-InboundConnector -Name "DirectSend-office-printers-203\.0\.113\.0-24" -ConnectorType Partner -SenderDomains "contoso\.com" -SenderIPAddresses "203\.0\.113\.0\/24" -RestrictDomainsToIPAddresses \$true$/);
  assert.match(rec.mxward, /^mxward connector add DirectSend-office-printers-203\.0\.113\.0-24 --type partner --sender-domain contoso\.com --ip 203\.0\.113\.0\/24 --restrict-to-ips true$/);
  assert.ok(!model.recommendations.some((x: { sources: string[] }) => x.sources.includes('198.51.100.7')), 'never a connector for the spammer');
  assert.match(model.policyYaml, /connectors:\n\s+- name: DirectSend-office-printers-203\.0\.113\.0-24/);
  assert.match(model.headline.text, /^Enforcing Reject Direct Send would stop \d+ attack or unknown sources? \(\d+ messages?\) and cut off 2 authorised senders \(\d+ messages\) unless you add this connector:$/);
});

test('the suggested YAML is accepted by --what-if and leaves only the spam rejected', async () => {
  const first = await mxward(dataDir, ['report', ...traffic, ...org, ...evidence, '--format', 'json']);
  const yamlFile = join(dataDir, 'suggested.yaml');
  const { writeFile } = await import('node:fs/promises');
  const model = JSON.parse(first.stdout);
  // Keep the existing CRM connector and add the suggestions, as an admin would.
  await writeFile(yamlFile, model.policyYaml.replace('connectors:\n', 'connectors:\n  - { name: Contoso CRM, type: partner, senderDomains: [contoso.com], senderIPAddresses: [192.0.2.16/28], restrictDomainsToIPAddresses: true }\n'));
  const r = await mxward(dataDir, ['report', ...traffic, ...org, '--what-if', yamlFile, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const after = JSON.parse(r.stdout);
  const still = after.sources.filter((s: { whatIfReject: number }) => s.whatIfReject > 0).map((s: { key: string }) => s.key).sort();
  assert.deepEqual(still, ['198.51.100.7']);
  assert.equal(after.totals.whatIfReject, after.sources.find((s: { key: string }) => s.key === '198.51.100.7').wouldReject);
});

test('text summary: the headline first, the connectors right under it', async () => {
  const r = await mxward(dataDir, ['report', ...traffic, ...org, ...evidence]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[2], /^Enforcing Reject Direct Send would stop .* unless you add this connector:$/);
  assert.match(lines[3], /^  DirectSend-office-printers-203\.0\.113\.0-24 \(203\.0\.113\.0\/24\)/);
  assert.match(lines[4], /evidence: 203\.0\.113\.10: named by the administrator/);
  assert.match(r.stdout, /Impact: enforcing Reject Direct Send would reject \d+ row\(s\) from 3 source\(s\)\./);
  assert.match(r.stdout, /Exchange Online: New-InboundConnector/);
  assert.match(r.stdout, /mxward:\s+mxward connector add/);
});

test('csv output: one row per source, formula-looking cells defused', async () => {
  const r = await mxward(dataDir, ['report', ...traffic, ...org, ...evidence, '--format', 'csv']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\r\n');
  assert.match(lines[0], /^source,ip,network,label,rows,/);
  assert.ok(lines.some((l) => l.startsWith('203.0.113.10,203.0.113.10,203.0.113.0/24,authorised,')));
});

test('accepted domains and connectors from EXO JSON exports (UTF-16 too)', async () => {
  const r = await mxward(dataDir, ['report', fixture('message-trace-v2.csv'), '--accepted-domains', fixture('accepted-domains.json'), '--connectors', fixture('inbound-connectors.json'), '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(r.stdout);
  assert.deepEqual(model.organization.acceptedDomains, ['contoso.com', 'contoso.onmicrosoft.com']);
  assert.deepEqual(model.organization.connectors, ['Contoso CRM']);
});

test('malformed inputs: file:line: field, skipped and counted, exit 1, no stack trace', async () => {
  const broken = ['bad-quoting.csv', 'bad-date.csv', 'missing-column.csv', 'unterminated.csv', 'not-json.json'].map((f) => fixture(`broken/${f}`));
  const r = await mxward(dataDir, ['report', ...broken, '--accepted-domain', 'contoso.com']);
  assert.equal(r.code, 1);
  assert.ok(!hasStackTrace(r.stderr + r.stdout), r.stderr);
  assert.match(r.stderr, /bad-quoting\.csv:3: field 4 \(Subject\): text after a closing quote/);
  assert.match(r.stderr, /bad-date\.csv:3: field Received: "13\/45\/2026 99:00:00 PM" is not a date: row skipped/);
  assert.match(r.stderr, /missing-column\.csv:1: message trace export is missing column RecipientAddress/);
  assert.match(r.stderr, /unterminated\.csv:2: unterminated quoted field/);
  assert.match(r.stderr, /not-json\.json:\d+: not valid JSON/);
  assert.match(r.stderr, /mxward report: 5 problem\(s\) in the input/);
  assert.match(r.stdout, /Read 4 row\(s\) from 2 input\(s\)/, 'good rows of broken files still count');
});

test('usage and configuration errors: exit 2, one line, no stack trace', async () => {
  for (const args of [['report'], ['report', fixture('message-trace-v2.csv'), '--format', 'pdf'], ['report', fixture('message-trace-v2.csv'), '--connectors', fixture('accepted-domains.json')], ['report', '--nope']]) {
    const r = await mxward(dataDir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(!hasStackTrace(r.stderr), r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const missing = await mxward(dataDir, ['report', join(dataDir, 'nope.csv'), '--accepted-domain', 'contoso.com']);
  // Issue 16: a path that names nothing is a usage error, not a report of nothing.
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.csv: no such file or directory/);
  assert.equal(missing.stdout, '');
});

test('stdin input and globs', async () => {
  const input = await readFile(fixture('messages/direct-send-spoof.eml'), 'utf8');
  const r = await mxward(dataDir, ['report', '-', fixture('emailevents.*'), '--accepted-domain', 'contoso.com', '--format', 'json'], input);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(r.stdout);
  assert.deepEqual(model.inputs.map((i: { file: string }) => i.file.split('/').pop()).sort(), ['(stdin)', 'emailevents.csv', 'emailevents.json', 'emailevents.jsonl']);
});

test('a report over mxward\'s own trace matches what the gateway decided', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-report-trace-'));
  const store = new SqliteStore(dataPaths(dir).store);
  const doc = defaultPolicy();
  doc.acceptedDomains = [{ domain: 'contoso.com', includeSubdomains: false, recipients: [] }];
  doc.connectors = [{ name: 'scanners', type: 'partner', enabled: true, senderDomains: ['contoso.com'], senderIPAddresses: ['203.0.113.0/28'], tlsSenderCertificateName: null, restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: false, comment: '' }];
  await store.writePolicy(doc, 'test', 'test');
  const base: TraceRecord = {
    time: '2026-11-20T10:00:00.000Z', sessionId: 's', transactionId: 't', remoteIp: '198.51.100.7', helo: '[198.51.100.7]', ptr: null,
    tlsVersion: null, tlsCipher: null, tlsClientCertificate: null, authUser: null, connector: null, attribution: 'anonymous',
    mailFrom: 'ceo@contoso.com', recipients: ['alice@contoso.com'], headerFrom: ['ceo@contoso.com'], messageId: null, subject: 'Voicemail',
    sizeBytes: null, directSend: 'p1', directSendWouldReject: false, auth: null, verdict: 'reject',
    reply: '550 5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources', stage: 'rcpt',
    hits: [], queueId: null, quarantineId: null, deliveryStatus: 'not-queued', durationMs: 3,
  };
  await store.appendTrace({ ...base, transactionId: 't1' });
  await store.appendTrace({ ...base, transactionId: 't2', remoteIp: '203.0.113.5', helo: 'mx.contoso.com', connector: 'scanners', attribution: 'partner', directSend: null, verdict: 'accept', reply: '250 2.6.0 <q> Queued mail for delivery', subject: 'Scan', stage: 'data' });
  await store.appendTrace({ ...base, transactionId: 't3', remoteIp: '198.51.100.9', mailFrom: 'news@fabrikam.example', headerFrom: ['news@fabrikam.example'], directSend: null, verdict: 'accept', reply: '250 2.6.0 <q2> Queued mail for delivery', subject: 'News', stage: 'data' });
  await store.close();
  try {
    const r = await mxward(dir, ['report', '--trace', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const model = JSON.parse(r.stdout);
    assert.equal(model.totals.rows, 3);
    assert.deepEqual(model.totals.kinds, { 'direct-send': 1, 'header-from': 0, connector: 1, internal: 0, external: 1 });
    const rejected = model.messages.shown.find((m: { kind: string }) => m.kind === 'direct-send');
    assert.equal(rejected.sourceIp, '198.51.100.7', 'the one the gateway refused with 5.7.68');
    assert.equal(model.organization.connectors[0], 'scanners', 'connectors came from the store');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
