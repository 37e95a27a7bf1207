// Issue 12, "never suggest allowing a source without positive evidence": the report run as a user
// runs it over fixtures written for this issue (test/fixtures/report-trust/): a BEC-style source,
// the same kind of source quarantined by the trace, a printer and a SaaS range covered by SPF, a
// forwarder without SRS, an unknown source, a DMARC-passing app, a junked one and a HELO that
// claims our domain. Asserts the label, the evidence shown, and who gets a connector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mxward } from '../helpers/commands.ts';

const trust = (name: string): string => fileURLToPath(new URL(`../fixtures/report-trust/${name}`, import.meta.url));
const dataDir = await mkdtemp(join(tmpdir(), 'mxward-trust-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));

const inputs = ['trace.csv', 'bec-quarantined.csv', 'emailevents.csv', 'forwarder.eml', 'helo-claims-ours.eml'].map(trust);
const spf = ['--spf', 'contoso.com=v=spf1 ip4:203.0.113.25 include:_spf.saas.example -all', '--spf', '_spf.saas.example=v=spf1 ip4:192.0.2.0/24 -all'];

interface Source { key: string; label: string; reasons: string[]; evidenceFor: Array<{ kind: string; text: string }>; evidenceAgainst: string[]; facts: string[] }
interface Rec { name: string; sources: string[]; senderIPAddresses: string[]; evidence: string[] }

async function report(extra: string[]) {
  const r = await mxward(dataDir, ['report', ...inputs, '--accepted-domain', 'contoso.com', ...extra, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(r.stdout) as { sources: Source[]; recommendations: Rec[]; headline: { text: string; stop: { sources: number }; cut: { sources: number } } };
  return { model, by: new Map(model.sources.map((s) => [s.key, s])) };
}

test('labels and evidence: only sources with positive evidence and nothing against are authorised', async () => {
  const { model, by } = await report(spf);
  const bec = by.get('198.51.100.66')!;
  assert.equal(bec.label, 'suspicious');
  assert.ok(bec.evidenceAgainst.some((x) => /ceo@contoso\.com is a real mailbox/.test(x)), bec.evidenceAgainst.join('; '));
  assert.ok(bec.evidenceAgainst.some((x) => /lure subjects \(12\)/.test(x)), bec.evidenceAgainst.join('; '));
  const quarantined = by.get('198.51.100.67')!;
  assert.equal(quarantined.label, 'suspicious');
  assert.deepEqual(quarantined.evidenceAgainst, ["the export's own verdict: Quarantined 6"]);
  const printer = by.get('203.0.113.25')!;
  assert.equal(printer.label, 'authorised');
  assert.match(printer.evidenceFor[0].text, /^SPF: 203\.0\.113\.25 is authorised by contoso\.com \(ip4:203\.0\.113\.25, range 203\.0\.113\.25\/32\)$/);
  for (const ip of ['192.0.2.40', '192.0.2.41']) {
    assert.equal(by.get(ip)!.label, 'authorised', ip);
    assert.match(by.get(ip)!.evidenceFor[0].text, /include:_spf\.saas\.example -> ip4:192\.0\.2\.0\/24, range 192\.0\.2\.0\/24/);
  }
  assert.equal(by.get('233.252.0.9')!.label, 'unknown');
  assert.match(by.get('233.252.0.9')!.reasons[0], /^unknown: decide/);
  const forwarder = by.get('198.18.7.7')!;
  assert.equal(forwarder.label, 'forwarder');
  assert.ok(forwarder.evidenceFor.some((e) => e.kind === 'dmarc'), 'DMARC passed, yet a forwarder gets advice, not a connector');
  assert.equal(by.get('203.0.113.80')!.label, 'authorised');
  assert.match(by.get('203.0.113.80')!.evidenceFor[0].text, /DMARC pass for contoso\.com on 3 of 3/);
  const junked = by.get('198.51.100.90')!;
  assert.equal(junked.label, 'suspicious');
  assert.deepEqual(junked.evidenceAgainst, ["the export's own verdict: Junked 2", 'threats named by the export: Spam 2']);
  assert.deepEqual(by.get('198.51.100.120')!.evidenceAgainst, ['HELO claims one of our own domains from a foreign IP']);

  const recs = model.recommendations.map((r) => [r.name, r.senderIPAddresses, r.sources]);
  assert.deepEqual(recs, [
    ['DirectSend-192.0.2.0-24', ['192.0.2.0/24'], ['192.0.2.40', '192.0.2.41']],
    ['DirectSend-203.0.113.25-32', ['203.0.113.25/32'], ['203.0.113.25']],
    ['DirectSend-203.0.113.80', ['203.0.113.80/32'], ['203.0.113.80']],
  ]);
  assert.ok(model.recommendations.every((r) => r.evidence.length > 0), 'each connector shows its evidence');
  assert.equal(model.headline.cut.sources, 4);
  assert.match(model.headline.text, /would stop 6 attack or unknown sources \(\d+ messages\) and cut off 4 authorised senders \(\d+ messages\) unless you add these connectors:/);
});

test('signals against win over any evidence, the administrator\'s own naming included', async () => {
  const everything = ['--spf', 'contoso.com=v=spf1 ip4:198.51.100.0/24 ip4:233.252.0.9 -all',
    '--known-sender', '198.51.100.66=ceo-laptop', '--known-sender', '198.51.100.67=accounts-app', '--known-sender', '198.51.100.90=billing'];
  const { model, by } = await report(everything);
  for (const ip of ['198.51.100.66', '198.51.100.67', '198.51.100.90', '198.51.100.120']) {
    assert.equal(by.get(ip)!.label, 'suspicious', ip);
    assert.ok(by.get(ip)!.evidenceFor.length > 0, `${ip} has evidence, shown`);
  }
  assert.deepEqual(model.recommendations.map((r) => r.sources).flat().sort(), ['203.0.113.80', '233.252.0.9'], 'only the unknown source (now in SPF) and the DMARC app');
});

test('without any evidence flag, nothing from the Microsoft trace is suggested', async () => {
  const { model, by } = await report([]);
  assert.equal(by.get('203.0.113.25')!.label, 'unknown');
  assert.match(by.get('203.0.113.25')!.facts.join(' '), /3 message\(s\) on 3 day\(s\)/);
  assert.deepEqual(model.recommendations.map((r) => r.name), ['DirectSend-203.0.113.80'], 'DMARC pass in the Defender export is evidence on its own');
});
