// mxward audit: the CIS Reject Direct Send control, connector hygiene from EXO exports, mxward's
// own policy and bootstrap, DNS record parsing; exit code 0 only when required checks pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mxward } from '../helpers/commands.ts';
import { runChecks, auditPassed } from '../../src/audit/run-audit.ts';
import { dmarcPolicy, spfAll } from '../../src/audit/dns-records.ts';
import type { AuditContext } from '../../src/audit/types.ts';
import { rangeToCidrs } from '../../src/report/import/exo-config.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { dataPaths } from '../../src/config/data-dir.ts';
import { policySchema, storedPolicySchema } from '../../src/config/policy-schema.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/report/${name}`, import.meta.url));
const dataDir = await mkdtemp(join(tmpdir(), 'mxward-audit-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));
const noStore = join(dataDir, 'no-store');

test('CIS control fails on RejectDirectSend False (UTF-16 export), exit 1, with the remedy', async () => {
  const r = await mxward(noStore, ['audit', fixture('organization-config-utf16.json'), '--json']);
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  const cis = out.checks.find((c: { id: string }) => c.id === 'exo.reject-direct-send');
  assert.equal(cis.status, 'fail');
  assert.match(cis.reference, /CIS/);
  assert.match(cis.findings[0].remedy, /Set-OrganizationConfig -RejectDirectSend \$true/);
  assert.equal(out.passed, false);
});

test('clean tenant exports pass: exit 0', async () => {
  const r = await mxward(noStore, ['audit', fixture('organization-config-enforced.json'), fixture('inbound-connectors.json'), fixture('accepted-domains.json')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS\s+Direct Send submissions are rejected \(RejectDirectSend\)/);
  assert.match(r.stdout, /All required checks passed\./);
});

test('weak connectors: whole Internet, domain-only, * on a vendor certificate, no TLS', async () => {
  const r = await mxward(noStore, ['audit', fixture('organization-config-enforced.json'), fixture('inbound-connectors-weak.json'), fixture('accepted-domains.json'), '--json']);
  assert.equal(r.code, 1);
  const checks = new Map(JSON.parse(r.stdout).checks.map((c: { id: string }) => [c.id, c]));
  const detail = (id: string): string => (checks.get(id) as { findings: Array<{ detail: string }> }).findings.map((f) => f.detail).join('\n');
  const status = (id: string): string => (checks.get(id) as { status: string }).status;
  assert.equal(status('exo.connectors.ip-ranges'), 'fail');
  assert.match(detail('exo.connectors.ip-ranges'), /"Printers anywhere" trusts 0\.0\.0\.0\/0 \(the whole Internet\)/);
  assert.doesNotMatch(detail('exo.connectors.ip-ranges'), /Range form/, 'a-b range converted to 203.0.113.8/29 is fine');
  assert.equal(status('exo.connectors.restricted'), 'fail');
  assert.match(detail('exo.connectors.restricted'), /"Domain only" has neither sender IPs nor a certificate name/);
  assert.equal(status('exo.connectors.shared-certificate'), 'fail');
  assert.match(detail('exo.connectors.shared-certificate'), /"Vendor cloud" accepts any sender domain \(\*\) on certificate mail\.vendor\.example/);
  assert.equal(status('exo.connectors.require-tls'), 'warn', 'advisory: warns, never fails');
});

test('mxward policy from the store and the bootstrap file', async () => {
  const dir = join(dataDir, 'store');
  await mkdir(dir, { recursive: true });
  const store = new SqliteStore(dataPaths(dir).store);
  await store.writePolicy(policySchema.parse({
    rejectDirectSend: 'report', rejectDirectSendHeaderFrom: 'off',
    acceptedDomains: [{ domain: 'contoso.com' }],
    connectors: [{ name: 'lab', type: 'onPremises', senderIPAddresses: ['10.0.0.0/16'] }],
  }), 'test', 'test');
  await store.close();
  const config = join(dataDir, 'mxward.yaml');
  await writeFile(config, 'quarantine:\n  policies:\n    ownDomainSpoof: DefaultFullAccessPolicy\n');
  const r = await mxward(dir, ['audit', '--config', config, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const checks = new Map(JSON.parse(r.stdout).checks.map((c: { id: string; status: string }) => [c.id, c.status]));
  assert.equal(checks.get('mxward.reject-direct-send'), 'fail');
  assert.equal(checks.get('mxward.header-from'), 'fail');
  assert.equal(checks.get('mxward.no-open-relay'), 'fail');
  assert.equal(checks.get('mxward.connectors.ip-ranges'), 'fail');
  assert.equal(checks.get('mxward.spoof-quarantine'), 'fail');
  assert.equal(checks.get('mxward.tls'), 'fail');
  assert.equal(checks.get('mxward.accepted-domains'), 'pass');
});

test('usage errors: nothing to audit, unreadable export: exit 2, one line', async () => {
  const none = await mxward(noStore, ['audit']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^mxward audit: nothing to audit/);
  const bad = await mxward(noStore, ['audit', fixture('broken/not-json.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not-json\.json: line \d+: not valid JSON/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('DNS checks through an injected resolver', async () => {
  const zone: Record<string, string[] | 'nxdomain'> = {
    'contoso.com': ['v=spf1 include:spf.protection.outlook.com -all', 'MS=ms123'],
    '_dmarc.contoso.com': ['v=DMARC1; p=reject; rua=mailto:d@contoso.com'],
    'fabrikam.com': ['v=spf1 ip4:192.0.2.0/24 ~all'],
    '_dmarc.fabrikam.com': 'nxdomain',
  };
  const ctx: AuditContext = {
    exo: { org: null, connectors: null, domains: [{ domain: 'contoso.com', includeSubdomains: false, domainType: 'Authoritative' }, { domain: 'fabrikam.com', includeSubdomains: false, domainType: 'Authoritative' }] },
    mxward: { policy: null, bootstrap: null },
    dns: { txt: async (name) => zone[name] ?? 'nxdomain' },
  };
  const results = await runChecks(ctx);
  const spf = results.find((r) => r.id === 'dns.spf')!;
  assert.equal(spf.status, 'warn');
  assert.deepEqual(spf.findings.map((f) => f.status), ['pass', 'warn']);
  const dmarc = results.find((r) => r.id === 'dns.dmarc')!;
  assert.deepEqual(dmarc.findings.map((f) => f.detail), ['contoso.com: p=reject', 'fabrikam.com: no DMARC record']);
  assert.equal(auditPassed(results), true, 'DNS checks are advisory');
});

test('record parsing', () => {
  assert.equal(spfAll(['v=spf1 mx -all']).all, '-');
  assert.equal(spfAll(['v=spf1 mx ~all']).all, '~');
  assert.equal(spfAll(['v=spf1 mx all']).all, '+');
  assert.equal(spfAll(['v=spf1 mx']).all, null);
  assert.equal(spfAll(['v=spf1 a -all', 'v=spf1 mx -all']).count, 2);
  assert.equal(dmarcPolicy(['v=DMARC1; p=quarantine; pct=100']), 'quarantine');
  assert.equal(dmarcPolicy(['v=DMARC1; rua=mailto:x@y']), 'invalid');
  assert.equal(dmarcPolicy(['v=spf1 -all']), null);
  assert.deepEqual(rangeToCidrs('203.0.113.8', '203.0.113.15'), ['203.0.113.8/29']);
  assert.deepEqual(rangeToCidrs('10.0.0.1', '10.0.0.4'), ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/32']);
  assert.equal(rangeToCidrs('10.0.0.9', '10.0.0.1'), null);
});

test('a stored policy from before issue 19: all-of-IPv4, octal and over-wide internal ranges and odd certificate names are found', async () => {
  const policy = storedPolicySchema.parse({
    acceptedDomains: [{ domain: 'contoso.com' }],
    connectors: [
      { name: 'everything', type: 'onPremises', senderIPAddresses: ['::ffff:0:0/96'] },
      { name: 'octal', type: 'partner', senderIPAddresses: ['010.1.2.0/24'], restrictDomainsToIPAddresses: true },
      { name: 'compat', type: 'partner', senderIPAddresses: ['::1.2.3.0/120'], restrictDomainsToIPAddresses: true },
      { name: 'odd cert', type: 'partner', tlsSenderCertificateName: 'relay.contoso.com ,x', certificateFingerprints: ['abc'], restrictDomainsToCertificate: true },
    ],
  });
  const results = await runChecks({ exo: { org: null, connectors: null, domains: null }, mxward: { policy, bootstrap: null }, dns: null });
  const byId = new Map(results.map((r) => [r.id, r]));
  const details = (id: string) => byId.get(id)!.findings.map((f) => f.detail).join('\n');
  assert.equal(byId.get('mxward.no-open-relay')!.status, 'fail');
  assert.match(details('mxward.no-open-relay'), /"everything" makes ::ffff:0:0\/96 internal: .*covers all of IPv4/);
  assert.equal(byId.get('mxward.connectors.ip-ranges')!.status, 'fail');
  assert.match(details('mxward.connectors.ip-ranges'), /"everything" trusts ::ffff:0:0\/96 \(the whole Internet\)/);
  assert.match(details('mxward.connectors.ip-ranges'), /"octal" lists "010\.1\.2\.0\/24", which is not a strict IP address or CIDR \(octet "010" has a leading zero/);
  assert.match(details('mxward.connectors.ip-ranges'), /"compat" lists "::1\.2\.3\.0\/120".*IPv4-compatible/);
  assert.equal(byId.get('mxward.connectors.certificate-names')!.status, 'warn', 'fails closed, so advisory');
  assert.match(details('mxward.connectors.certificate-names'), /"odd cert": certificate name "relay\.contoso\.com ,x" is not a host name/);
  assert.match(details('mxward.connectors.certificate-names'), /"abc" is not a SHA-256 fingerprint/);
  assert.equal(auditPassed(results), false);
});

test('a partner connector pinned by fingerprint alone authenticates something', async () => {
  const policy = policySchema.parse({
    acceptedDomains: [{ domain: 'contoso.com' }],
    connectors: [{ name: 'pinned', type: 'partner', certificateFingerprints: ['ab'.repeat(32)], restrictDomainsToCertificate: true, requireTls: true }],
  });
  const results = await runChecks({ exo: { org: null, connectors: null, domains: null }, mxward: { policy, bootstrap: null }, dns: null });
  assert.equal(results.find((r) => r.id === 'mxward.connectors.restricted')!.status, 'pass');
  assert.equal(results.find((r) => r.id === 'mxward.connectors.certificate-names')!.status, 'pass');
});
