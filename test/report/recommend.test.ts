// Suggested connectors (SPEC §9, §11): only for sources with positive evidence; certificate first
// when a verified name is known, the evidence's range or exact IPs otherwise, and the
// shared-vendor-certificate warning tied to the domain's DMARC policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator } from '../../src/report/aggregate.ts';
import type { Classification } from '../../src/report/classify.ts';
import { emptyEvidenceContext, labelSource } from '../../src/report/labels.ts';
import { recommendConnectors } from '../../src/report/recommend.ts';
import { emptyRow } from '../../src/report/types.ts';

const ours = (d: string | null): boolean => d === 'contoso.com';
const ds: Classification = { kind: 'direct-send', reason: 'test', connector: null, wouldReject: true, rejectCode: '5.7.68' };

const known = (...cidrs: string[]) => ({ ...emptyEvidenceContext(), knownSenders: cidrs.map((cidr) => ({ cidr, label: 'named' })) });

function sourcesFrom(rows: Array<{ ip: string; cert?: string; day: number; spf?: string }>, ctx = emptyEvidenceContext()) {
  const agg = new ReportAggregator(ours);
  for (const r of rows) {
    const row = { ...emptyRow({ file: 't', line: 1, format: 'mxward-trace' }, []), p1: 'app@contoso.com', recipients: ['a@contoso.com'], sourceIp: r.ip, certificateName: r.cert ?? null, timeMs: Date.UTC(2026, 10, r.day), spf: r.spf ?? null };
    agg.add(row, ds, null);
  }
  return [...agg.sources.values()].map((source) => ({ source, label: labelSource(source, ctx, ours) }));
}

test('certificate connector preferred; warning for a vendor certificate when DMARC is none or unknown', () => {
  const sources = sourcesFrom([{ ip: '198.51.100.20', cert: 'smtp.saas-vendor.example', day: 1 }, { ip: '198.51.100.21', cert: 'smtp.saas-vendor.example', day: 2 }], known('198.51.100.20/32', '198.51.100.21/32'));
  const unknown = recommendConnectors(sources, (d) => ours(d));
  assert.equal(unknown.length, 1);
  assert.equal(unknown[0].by, 'certificate');
  assert.match(unknown[0].powershell, /-TlsSenderCertificateName "smtp\.saas-vendor\.example" -RestrictDomainsToCertificate \$true -RequireTls \$true/);
  assert.match(unknown[0].mxward, /--cert-name smtp\.saas-vendor\.example --restrict-to-cert true --require-tls true/);
  assert.match(unknown[0].warnings[0], /shared by its other customers.*unknown/);
  const none = recommendConnectors(sources, (d) => ours(d), new Map([['contoso.com', 'none']]));
  assert.match(none[0].warnings[0], /DMARC policy of contoso\.com is none/);
  const reject = recommendConnectors(sources, (d) => ours(d), new Map([['contoso.com', 'reject']]));
  assert.deepEqual(reject[0].warnings, []);
});

test('without evidence nothing is suggested, whatever the pattern looks like', () => {
  const sources = sourcesFrom([{ ip: '203.0.113.10', day: 1, spf: 'pass' }, { ip: '203.0.113.10', day: 2, spf: 'pass' }, { ip: '203.0.113.10', day: 3, spf: 'pass' }]);
  assert.equal(sources[0].label.label, 'unknown');
  assert.deepEqual(recommendConnectors(sources, (d) => ours(d)), []);
});

test('DMARC-only evidence: the addresses seen, named after them; no evidence, no connector', () => {
  const agg = new ReportAggregator(ours);
  const add = (ip: string, dmarc: string | null) => agg.add({ ...emptyRow({ file: 't', line: 1, format: 'defender-emailevents' }, []), p1: 'app@contoso.com', p2: ['app@contoso.com'], recipients: ['a@contoso.com'], sourceIp: ip, dmarc, timeMs: Date.UTC(2026, 10, 1) }, ds, null);
  add('203.0.113.10', 'pass'); add('203.0.113.77', 'pass'); add('203.0.113.77', 'pass'); add('192.0.2.1', null); add('192.0.2.9', 'fail');
  const labelled = [...agg.sources.values()].map((source) => ({ source, label: labelSource(source, emptyEvidenceContext(), ours) }));
  const recs = recommendConnectors(labelled, (d) => ours(d));
  assert.equal(recs.length, 1);
  assert.deepEqual(recs[0].senderIPAddresses, ['203.0.113.10/32', '203.0.113.77/32']);
  assert.equal(recs[0].name, 'DirectSend-203.0.113.10-203.0.113.77');
  assert.match(recs[0].evidence.join('\n'), /DMARC pass for contoso\.com/);
});
