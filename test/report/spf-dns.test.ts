// `mxward report --dns`: the SPF evidence looked up from a real DNS server (Knot on loopback,
// serving the test's records; live DNS is never asked), following include, a and mx; and the
// SPF evaluator's rules for what is not evidence, as a table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dnsServerUnavailable, startDnsServer, txt } from '../helpers/dns-server.ts';
import { mxward } from '../helpers/commands.ts';
import { emptySpfTable, spfCoverage } from '../../src/report/spf-coverage.ts';

const trust = (name: string): string => fileURLToPath(new URL(`../fixtures/report-trust/${name}`, import.meta.url));

test('what SPF coverage counts as evidence', () => {
  const table = emptySpfTable();
  const set = (d: string, r: string) => table.records.set(d, r);
  set('a.test', 'v=spf1 ip4:203.0.113.0/24 -all');
  set('all.test', 'v=spf1 +all');
  set('wide.test', 'v=spf1 ip4:10.0.0.0/8 -all');
  set('soft.test', 'v=spf1 ~ip4:203.0.113.25 -all');
  set('inc.test', 'v=spf1 include:a.test include:missing.test -all');
  set('redir.test', 'v=spf1 redirect=a.test');
  set('host.test', 'v=spf1 a:mail.host.test -all');
  set('v6.test', 'v=spf1 ip6:2001:db8::/48 -all');
  const cases: Array<[string, string, string | false]> = [
    ['a.test', '203.0.113.25', 'ip4:203.0.113.0/24'],
    ['a.test', '198.51.100.1', false],
    ['all.test', '198.51.100.1', false],
    ['wide.test', '10.1.2.3', false],
    ['soft.test', '203.0.113.25', false],
    ['inc.test', '203.0.113.25', 'include:a.test -> ip4:203.0.113.0/24'],
    ['inc.test', '198.51.100.1', false],
    ['redir.test', '203.0.113.7', 'ip4:203.0.113.0/24'],
    ['host.test', '192.0.2.5', false],
    ['v6.test', '2001:db8::25', 'ip6:2001:db8::/48'],
    ['unknown.test', '203.0.113.25', false],
    ['a.test', 'not-an-ip', false],
  ];
  for (const [domain, ip, mechanism] of cases) {
    const c = spfCoverage(table, domain, ip);
    assert.equal(c.covered ? c.mechanism : false, mechanism, `${domain} ${ip}: ${c.covered ? '' : c.why}`);
  }
  assert.match((spfCoverage(table, 'all.test', '1.2.3.4') as { why: string }).why, /\+all .* not evidence/);
  assert.match((spfCoverage(table, 'wide.test', '10.1.2.3') as { why: string }).why, /too broad/);
  assert.match((spfCoverage(table, 'host.test', '192.0.2.5') as { why: string }).why, /needs a DNS lookup \(--dns\)/);
});

test('--dns looks the SPF records up on the DNS server it is given', { skip: dnsServerUnavailable() ?? false }, async (t) => {
  const dns = await startDnsServer([
    `contoso.com. 60 IN TXT ${txt('v=spf1 a:printer.contoso.com mx include:_spf.saas.example -all')}`,
    'printer.contoso.com. 60 IN A 203.0.113.25',
    'contoso.com. 60 IN MX 10 mx1.contoso.com.',
    'mx1.contoso.com. 60 IN A 198.51.100.200',
    `_spf.saas.example. 60 IN TXT ${txt('v=spf1 ip4:192.0.2.0/24 -all')}`,
  ]);
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-spf-dns-'));
  t.after(async () => { await dns.close(); await rm(dataDir, { recursive: true, force: true }); });
  const r = await mxward(dataDir, ['report', trust('trace.csv'), '--accepted-domain', 'contoso.com', '--dns', '--dns-server', dns.address, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const model = JSON.parse(r.stdout);
  const by = new Map(model.sources.map((s: { key: string }) => [s.key, s])) as Map<string, { label: string; evidenceFor: Array<{ text: string }> }>;
  assert.equal(by.get('203.0.113.25')!.label, 'authorised');
  assert.match(by.get('203.0.113.25')!.evidenceFor[0].text, /a:printer\.contoso\.com, range 203\.0\.113\.25\/32/);
  assert.match(by.get('192.0.2.40')!.evidenceFor[0].text, /include:_spf\.saas\.example -> ip4:192\.0\.2\.0\/24/);
  assert.equal(by.get('198.51.100.66')!.label, 'suspicious', 'DNS evidence never outweighs signals against');
  assert.deepEqual(model.recommendations.map((x: { name: string }) => x.name), ['DirectSend-192.0.2.0-24', 'DirectSend-203.0.113.25-32']);
});
