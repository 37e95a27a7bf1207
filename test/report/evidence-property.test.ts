// The property of issue 12 over random traffic: whatever rows and evidence flags come in, every
// suggested connector's sources have positive evidence (checked here from the raw rows and flags,
// not from the labeller's own reasons) and none of them shows a signal against; and every IP a
// connector lists is one the evidence vouches for. A wrong labeller or recommender fails it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { compilePolicy } from '../../src/policy/compile.ts';
import { defaultPolicy } from '../../src/config/policy-schema.ts';
import { ReportRun } from '../../src/report/build-report.ts';
import { emptySpfTable } from '../../src/report/spf-coverage.ts';
import { emptyRow } from '../../src/report/types.ts';
import type { ReportRow } from '../../src/report/types.ts';

const IPS = ['203.0.113.10', '203.0.113.11', '198.51.100.7', '192.0.2.40', '233.252.0.9'];
const SENDERS = ['scanner@contoso.com', 'ceo@contoso.com', 'app@contoso.com', 'news@fabrikam.example'];
const SUBJECTS = ['Scanned document', 'Ticket updated', 'Urgent: wire transfer today', 'Voicemail received', 'Monthly report'];
const STATUSES = ['Delivered', 'Delivered', 'Quarantined', 'FilteredAsSpam', 'Failed', null];
const SPF_RECORDS = ['v=spf1 ip4:203.0.113.0/24 -all', 'v=spf1 ip4:203.0.113.10 ip4:192.0.2.0/24 -all', 'v=spf1 +all', 'v=spf1 ip4:0.0.0.0/1 -all', 'v=spf1 ~all', 'v=spf1 a mx -all'];

const row = fc.record({
  ip: fc.constantFrom(...IPS, null),
  p1: fc.constantFrom(...SENDERS),
  p2: fc.constantFrom('contoso.com', 'fabrikam.example'),
  subject: fc.constantFrom(...SUBJECTS),
  status: fc.constantFrom(...STATUSES),
  threats: fc.constantFrom(null, null, 'Phish', 'Spam'),
  dmarc: fc.constantFrom(null, 'pass', 'fail'),
  helo: fc.constantFrom(null, 'mx.example.net', 'contoso.com'),
  recipients: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 5 }),
  messageId: fc.integer({ min: 0, max: 3 }),
});

const flags = fc.record({
  spf: fc.option(fc.constantFrom(...SPF_RECORDS), { nil: null }),
  known: fc.subarray(['203.0.113.0/24', '198.51.100.7/32', '192.0.2.40/32']),
});

const LURE = /wire|voicemail/i;

type RandomRow = typeof row extends fc.Arbitrary<infer T> ? T : never;

function toRow(r: RandomRow, i: number): ReportRow {
  return {
    ...emptyRow({ file: 'random', line: i + 1, format: 'defender-emailevents' }, []),
    timeMs: Date.UTC(2026, 10, r.day, 9), p1: r.p1, p2: [`x@${r.p2}`], subject: r.subject, status: r.status, threats: r.threats,
    dmarc: r.dmarc, helo: r.helo, sourceIp: r.ip, messageId: `<m${r.messageId}.${r.p1}@${r.ip}>`,
    recipients: Array.from({ length: r.recipients }, (_, k) => `user${k}@contoso.com`),
  };
}

const inRange = (ip: string, cidr: string): boolean => {
  const [net, len] = ipaddr.parseCIDR(cidr);
  const a = ipaddr.parse(ip);
  return a.kind() === net.kind() && a.match(net, len);
};

test('no connector without positive evidence, none with evidence against, only vouched-for addresses', () => {
  const doc = defaultPolicy();
  doc.acceptedDomains = [{ domain: 'contoso.com', includeSubdomains: false, recipients: [] }];
  const policy = compilePolicy(doc, 1);
  fc.assert(fc.property(fc.array(row, { minLength: 1, maxLength: 40 }), flags, (raw, f) => {
    const spf = emptySpfTable();
    if (f.spf) spf.records.set('contoso.com', f.spf);
    const run = new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: 0, spf, knownSenders: f.known.map((cidr) => ({ cidr, label: 'k' })) });
    const rows = raw.map(toRow);
    run.rows(rows);
    const model = run.finish();
    for (const rec of model.recommendations) {
      for (const ip of rec.sources) {
        const mine = rows.filter((r) => r.sourceIp === ip);
        // Against: any of these in the raw rows forbids a connector.
        assert.ok(!mine.some((r) => r.status && r.status !== 'Delivered'), `${ip}: trace verdict against`);
        assert.ok(!mine.some((r) => r.threats), `${ip}: threats`);
        assert.ok(!mine.some((r) => LURE.test(r.subject ?? '')), `${ip}: lure subject`);
        assert.ok(!mine.some((r) => r.helo === 'contoso.com'), `${ip}: HELO claims our domain`);
        const perMessage = new Map<string, number>();
        // Fan-out is judged on the mail that claims to be ours (a newsletter's fan-out is normal).
        for (const r of mine.filter((x) => x.p1!.endsWith('@contoso.com') || x.p2![0].endsWith('@contoso.com'))) perMessage.set(r.messageId!, (perMessage.get(r.messageId!) ?? 0) + r.recipients.length);
        assert.ok(Math.max(0, ...perMessage.values()) < 10, `${ip}: fan-out`);
        // The mail that claims to be ours (P1 or From: in contoso.com) is what the evidence is about;
        // the IP's ordinary mail for other domains neither helps nor hurts it.
        const claiming = mine.filter((x) => x.p1!.endsWith('@contoso.com') || x.p2![0].endsWith('@contoso.com'));
        // For: named by the admin, or in a real (narrow, pass) SPF range, or DMARC pass for ours throughout.
        const known = f.known.some((c) => inRange(ip, c));
        const spfOk = f.spf !== null && /ip4:(203\.0\.113\.0\/24|203\.0\.113\.10|192\.0\.2\.0\/24)/.test(f.spf)
          && claiming.every((r) => r.p1!.endsWith('@contoso.com'))
          && [...f.spf.matchAll(/ip4:([\d./]+)/g)].some((m) => inRange(ip, m[1].includes('/') ? m[1] : `${m[1]}/32`));
        const dmarcOk = claiming.every((r) => r.p2![0].endsWith('@contoso.com')) && claiming.some((r) => r.dmarc === 'pass') && claiming.every((r) => r.dmarc !== 'fail');
        assert.ok(known || spfOk || dmarcOk, `${ip}: a connector without evidence (${rec.evidence.join('; ')})`);
      }
      // Every listed range holds only what the evidence supports: a known CIDR, an SPF range, or a seen host.
      for (const cidr of rec.senderIPAddresses) {
        const fromKnown = f.known.includes(cidr);
        const fromSpf = f.spf !== null && (f.spf.includes(`ip4:${cidr}`) || f.spf.includes(`ip4:${cidr.replace(/\/32$/, '')}`));
        const seenHost = cidr.endsWith('/32') && rec.sources.includes(cidr.slice(0, -3));
        assert.ok(fromKnown || fromSpf || seenHost, `${cidr} in ${rec.name}`);
      }
    }
  }), { numRuns: 1500 });
});
