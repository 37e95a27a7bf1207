// The per-row decision as a table (DESIGN.md layer a): kind, refusal and evidence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Classifier, ipv4ToNumber } from '../../src/report/classify.ts';
import type { MessageKind } from '../../src/report/classify.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { policySchema } from '../../src/config/policy-schema.ts';
import { emptyRow } from '../../src/report/types.ts';
import type { ReportRow } from '../../src/report/types.ts';

const policy = compilePolicy(policySchema.parse({
  acceptedDomains: [{ domain: 'contoso.com' }, { domain: 'northwind.com' }, { domain: 'fabrikam.com', includeSubdomains: true }],
  connectors: [
    { name: 'CRM', type: 'partner', senderDomains: ['contoso.com'], senderIPAddresses: ['192.0.2.16/28'], restrictDomainsToIPAddresses: true },
    { name: 'Vendor', type: 'partner', senderDomains: ['fabrikam.com'], tlsSenderCertificateName: 'mail.vendor.example' },
  ],
}), 1);
const classifier = new Classifier(policy, Date.parse('2026-11-23T00:00:00Z'));

function row(format: ReportRow['origin']['format'], fields: Partial<ReportRow>): ReportRow {
  return { ...emptyRow({ file: 't', line: 1, format }, []), ...fields };
}

const cases: Array<[string, ReportRow, MessageKind, boolean, string | null]> = [
  ['our P1 from an unknown IP', row('message-trace-v2', { p1: 'scanner@northwind.com', recipients: ['a@contoso.com'], sourceIp: '203.0.113.10' }), 'direct-send', true, '5.7.68'],
  ['P1 domain compared case-insensitively', row('message-trace-v2', { p1: 'Scanner@NORTHWIND.COM', recipients: ['a@contoso.com'], sourceIp: '203.0.113.10' }), 'direct-send', true, '5.7.68'],
  ['subdomain of an opted-in domain', row('message-trace-v2', { p1: 'x@eu.fabrikam.com', recipients: ['a@contoso.com'], sourceIp: '203.0.113.10' }), 'direct-send', true, '5.7.68'],
  ['subdomain without the opt-in is foreign', row('message-trace-v2', { p1: 'x@eu.contoso.com', recipients: ['a@contoso.com'], sourceIp: '203.0.113.10' }), 'external', false, null],
  ['connector IP attributes it', row('message-trace-v2', { p1: 'crm@contoso.com', recipients: ['a@contoso.com'], sourceIp: '192.0.2.20' }), 'connector', false, null],
  ['a partner connector restricting our domain makes other sources 5.7.51 (SPEC §2.4)', row('message-trace-v2', { p1: 'x@contoso.com', recipients: ['a@contoso.com'], sourceIp: '203.0.113.10' }), 'direct-send', true, '5.7.51'],
  ['just outside the connector range: restricted (5.7.51)', row('message-trace-v2', { p1: 'crm@contoso.com', recipients: ['a@contoso.com'], sourceIp: '192.0.2.32' }), 'direct-send', true, '5.7.51'],
  ['no source IP in a trace: internal', row('message-trace-v2', { p1: 'alice@contoso.com', recipients: ['b@contoso.com'], sourceIp: null }), 'internal', false, null],
  ['our P1 to a foreign recipient: outbound', row('message-trace-v2', { p1: 'alice@contoso.com', recipients: ['x@other.example'], sourceIp: '10.0.0.5' }), 'internal', false, null],
  ['foreign P1, our From: header-From variant', row('defender-emailevents', { p1: 'b@phish.example', p2: ['payroll@contoso.com'], sourceIp: '198.51.100.1', connector: '' }), 'header-from', false, null],
  ['null sender never matches the P1 check', row('mail-headers', { p1: '', p2: [], authAs: 'anonymous', sourceIp: '198.51.100.1' }), 'external', false, null],
  ['AuthAs Internal', row('mail-headers', { p1: 'a@contoso.com', authAs: 'internal', sourceIp: '10.0.0.1' }), 'internal', false, null],
  ['AuthAs Partner', row('mail-headers', { p1: 'a@contoso.com', authAs: 'partner', sourceIp: '10.0.0.1' }), 'connector', false, null],
  ['anonymous .eml with our P1 to a foreign mailbox is still Direct Send', row('mail-headers', { p1: 'a@northwind.com', authAs: 'anonymous', recipients: ['phishing@pot'], sourceIp: '198.51.100.1' }), 'direct-send', true, '5.7.68'],
  ['EmailEvents Connectors column names a connector', row('defender-emailevents', { p1: 'a@contoso.com', connector: 'CRM', sourceIp: '198.51.100.1', direction: 'inbound' }), 'connector', false, null],
  ['EAC default frontend connector is not a connector', row('eac-trace', { p1: 'a@northwind.com', connector: 'DM6PR11MB4154\\Default DM6PR11MB4154', sourceIp: '198.51.100.1', direction: 'inbound', recipients: ['b@contoso.com'] }), 'direct-send', true, '5.7.68'],
  ['EAC Originating is internal', row('eac-trace', { p1: 'a@contoso.com', direction: 'outbound', sourceIp: null }), 'internal', false, null],
  ['verified certificate name matches the vendor connector', row('mxward-trace', { p1: 'x@fabrikam.com', authAs: null, certificateName: 'mail.vendor.example', sourceIp: '198.51.100.5', recipients: ['a@contoso.com'] }), 'connector', false, null],
  ['SPF pass does not exempt (SPEC §2.5)', row('defender-emailevents', { p1: 'a@northwind.com', spf: 'pass', dmarc: 'pass', compauth: 'pass', connector: '', sourceIp: '203.0.113.9', recipients: ['b@contoso.com'] }), 'direct-send', true, '5.7.68'],
];

for (const [name, r, kind, wouldReject, code] of cases) {
  test(`classify: ${name}`, () => {
    const c = classifier.classify(r);
    assert.equal(c.kind, kind, c.reason);
    assert.equal(c.wouldReject, wouldReject);
    assert.equal(c.rejectCode, code);
    assert.ok(c.reason.length > 0, 'every decision says why');
  });
}

test('ipv4ToNumber rejects what is not a dotted quad', () => {
  assert.equal(ipv4ToNumber('192.0.2.1'), 0xc0000201);
  assert.equal(ipv4ToNumber('255.255.255.255'), 0xffffffff);
  for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '::1', '1..2.3', '', '1.2.3.4 ']) assert.equal(ipv4ToNumber(bad), -1, bad);
});
