// Direct Send header signatures and Microsoft's identities cross-checked (issue 18): the transport
// latency field naming Direct Send, Defender's hunting rule (Connectors empty, sender IP present),
// and Authentication-Results smtp.mailfrom / header.from against Return-Path / From.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward } from '../helpers/commands.ts';
import { analyzeMessage } from '../../src/report/analyze-message.ts';
import { crossCheckIdentities, identityDomain, latencySignature, microsoftAuthResultsField, SIGNATURE_FACTS } from '../../src/report/direct-send-signatures.ts';
import { parseAuthenticationResults } from '../../src/report/header-facts.ts';
import { parseHeaderText } from '../../src/report/import/header-block.ts';
import { defenderRow } from '../../src/report/import/defender-events.ts';

const dataDir = await mkdtemp(join(tmpdir(), 'mxward-signatures-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));

const MS_AR = (mailfrom: string, headerFrom: string) => `Authentication-Results: spf=fail (sender IP is 203.0.113.50)\r\n smtp.mailfrom=${mailfrom}; dkim=none (message not signed)\r\n header.d=none;dmarc=fail action=none\r\n header.from=${headerFrom};compauth=fail reason=601\r\n`;

function message(opts: { returnPath: string; from: string; ar: string; extra?: string }): string {
  return [
    'Received: from [203.0.113.50] (203.0.113.50) by\r\n AM4PEPF00027A6C.mail.protection.outlook.com (10.167.16.90) with Microsoft SMTP\r\n Server id 15.20.8901.15 via Frontend Transport; Tue, 3 Nov 2026 02:11:10 +0000\r\n',
    opts.ar,
    `From: ${opts.from}\r\n`,
    'To: alice@contoso.com\r\nSubject: Shared document\r\nDate: Tue, 3 Nov 2026 02:11:09 +0000\r\nMessage-ID: <doc1@sender.example>\r\n',
    `Return-Path: ${opts.returnPath}\r\n`,
    'X-MS-Exchange-Organization-AuthAs: Anonymous\r\n',
    'X-Forefront-Antispam-Report: CIP:203.0.113.50;CTRY:US;SCL:5;H:[203.0.113.50];DIR:INB;\r\n',
    opts.extra ?? '',
    '\r\nBody.\r\n',
  ].join('');
}

test('a sender-supplied Return-Path no longer hides an own-domain Direct Send: Microsoft\'s smtp.mailfrom decides, the disagreement is evidence', async () => {
  const raw = message({ returnPath: '<bounce@mailer.example>', from: '"Finance" <ceo@contoso.com>', ar: MS_AR('contoso.com', 'contoso.com') });
  const a = analyzeMessage(parseHeaderText(raw), ['contoso.com']);
  assert.equal(a.classification.kind, 'direct-send', 'before issue 18 this was read as a header-From spoof with a foreign P1');
  assert.equal(a.classification.wouldReject, true);
  assert.equal(a.p1, '@contoso.com');
  const d = a.signatures.find((e) => e.fact === SIGNATURE_FACTS.p1Disagrees);
  assert.ok(d, JSON.stringify(a.signatures));
  assert.equal(d.value, 'Microsoft saw smtp.mailfrom=contoso.com, Return-Path says bounce@mailer.example');
  assert.match(d.from, /^header Authentication-Results \(line 4\) against Return-Path$/);
  assert.ok(a.evidence.some((e) => e.fact === SIGNATURE_FACTS.p1Disagrees), 'also in the message evidence');

  const file = join(dataDir, 'sanitised.eml');
  await writeFile(file, raw);
  const r = await mxward(dataDir, ['analyze', file, '--accepted-domain', 'contoso.com']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Signature:\s+P1 disagreement: Microsoft saw smtp\.mailfrom=contoso\.com, Return-Path says bounce@mailer\.example/);
  assert.match(r.stdout, /Direct Send:\s+would be rejected \(550 5\.7\.68\)/);
});

test('From disagreeing with Microsoft\'s header.from: the spoofed author is classified and shown', () => {
  const a = analyzeMessage(parseHeaderText(message({ returnPath: '<x@mailer.example>', from: '"CEO" <ceo@mailer.example>', ar: MS_AR('mailer.example', 'contoso.com') })), ['contoso.com']);
  assert.equal(a.classification.kind, 'header-from');
  const d = a.signatures.find((e) => e.fact === SIGNATURE_FACTS.p2Disagrees);
  assert.equal(d?.value, 'Microsoft saw header.from=contoso.com, From says ceo@mailer.example');
  assert.ok(!a.signatures.some((e) => e.fact === SIGNATURE_FACTS.p1Disagrees), 'the P1 sides agree');
});

test('agreeing identities, or an Authentication-Results without compauth (not Microsoft\'s), give no disagreement', () => {
  const agree = analyzeMessage(parseHeaderText(message({ returnPath: '<ceo@contoso.com>', from: '<ceo@contoso.com>', ar: MS_AR('Contoso.com', 'contoso.com') })), ['contoso.com']);
  assert.deepEqual(agree.signatures, []);
  const foreignAr = 'Authentication-Results: mx.other.example; spf=pass smtp.mailfrom=contoso.com; dmarc=pass header.from=contoso.com\r\n';
  const other = analyzeMessage(parseHeaderText(message({ returnPath: '<bounce@mailer.example>', from: '<news@mailer.example>', ar: foreignAr })), ['contoso.com']);
  assert.deepEqual(other.signatures, []);
  assert.equal(other.p1, 'bounce@mailer.example');
});

test('X-MS-Exchange-Transport-EndToEndLatency naming Direct Send is a signature; a plain latency is not', () => {
  const withMention = parseHeaderText(message({ returnPath: '<ceo@contoso.com>', from: '<ceo@contoso.com>', ar: MS_AR('contoso.com', 'contoso.com'),
    extra: 'X-MS-Exchange-Transport-EndToEndLatency: 00:00:01.8843265; Direct Send submission\r\n' }));
  const sig = latencySignature(withMention);
  assert.equal(sig?.fact, SIGNATURE_FACTS.latency);
  assert.equal(sig?.value, '00:00:01.8843265; Direct Send submission');
  assert.match(sig!.from, /^header X-MS-Exchange-Transport-EndToEndLatency \(line \d+\)$/);
  assert.ok(analyzeMessage(withMention, ['contoso.com']).signatures.some((e) => e.fact === SIGNATURE_FACTS.latency));
  for (const v of ['DirectSend', 'direct-send']) assert.ok(latencySignature(parseHeaderText(`X-MS-Exchange-Transport-EndToEndLatency: 00:00:02; ${v}\r\n\r\n`)));
  assert.equal(latencySignature(parseHeaderText('X-MS-Exchange-Transport-EndToEndLatency: 00:00:02.1234567\r\n\r\n')), null);
  assert.equal(latencySignature(parseHeaderText('X-Other: Direct Send\r\n\r\n')), null);
});

test('cross-check building blocks: identity domains, the Microsoft field, missing sides say nothing', () => {
  assert.equal(identityDomain('<Bounce@Mailer.Example>'), 'mailer.example');
  assert.equal(identityDomain('contoso.com.'), 'contoso.com');
  assert.equal(identityDomain(''), null);
  const fields = parseHeaderText(`Authentication-Results: relay.example; spf=pass smtp.mailfrom=a.example\r\n${MS_AR('contoso.com', 'contoso.com')}\r\n`);
  const field = microsoftAuthResultsField(fields);
  assert.equal(field?.line, 2);
  const ms = parseAuthenticationResults(field!.value);
  assert.deepEqual(crossCheckIdentities(field, ms, null, []).evidence, []);
  assert.deepEqual(crossCheckIdentities(field, ms, '', ['ceo@contoso.com']).evidence, [], 'null sender <> is not a disagreement');
  assert.equal(crossCheckIdentities(null, ms, 'x@y.example', []).p1Microsoft, null);
});

test('Defender hunting signature: Connectors empty with a sender IP is evidence; a named connector or no IP is not', () => {
  const base = { timestamp: '2026-11-03T02:11:09Z', sendermailfromaddress: 'ceo@contoso.com', recipientemailaddress: 'alice@contoso.com', senderfromaddress: 'ceo@contoso.com', authenticationdetails: null };
  const fact = 'Direct Send signature (Defender hunting)';
  const hit = defenderRow({ ...base, connectors: '', senderipv4: '203.0.113.50' }, 'events.csv', 2);
  assert.ok(typeof hit === 'object' && hit.evidence.some((e) => e.fact === fact));
  const v6 = defenderRow({ ...base, connectors: null, senderipv6: '2001:db8::5' }, 'events.csv', 3);
  assert.ok(typeof v6 === 'object' && v6.evidence.some((e) => e.fact === fact), 'an empty cell reads as null');
  const named = defenderRow({ ...base, connectors: 'Printer connector', senderipv4: '203.0.113.50' }, 'events.csv', 4);
  assert.ok(typeof named === 'object' && !named.evidence.some((e) => e.fact === fact));
  const noIp = defenderRow({ ...base, connectors: '' }, 'events.csv', 5);
  assert.ok(typeof noIp === 'object' && !noIp.evidence.some((e) => e.fact === fact));
  const noColumn = defenderRow({ ...base, senderipv4: '203.0.113.50' }, 'events.csv', 6);
  assert.ok(typeof noColumn === 'object' && !noColumn.evidence.some((e) => e.fact === fact), 'an export without the column says nothing');
});
