// Issue 16, metrics of email authentication: a message from a domain whose SPF record fails the
// client, through the real listener with DNS from a real server on loopback; the scrape counts
// the SPF and DMARC results and the DNS lookups the checks made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { waitFor } from '../helpers/loopback.ts';

const unavailable = dnsServerUnavailable();
let dns: TestDnsServer;
let gw: TestGateway;

before(async () => {
  if (unavailable) return;
  dns = await startDnsServer([
    'fabrikam.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"',
    '_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=none"',
  ]);
  gw = await startTestGateway({
    config: { admin: { host: '127.0.0.1', port: 0 }, auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1 } },
    policy: (doc) => ({ ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => {
  await gw?.close();
  await dns?.close();
});

function value(text: string, prefix: string): number {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

test('SPF, DMARC and DNS lookups are counted after a real message', { skip: unavailable ?? false }, async () => {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: gw.inbound.port, secure: false, ignoreTLS: true, name: 'mail.client.test' });
  try {
    await transport.sendMail({ envelope: { from: 'news@fabrikam.test', to: ['alice@contoso.test'] }, from: 'news@fabrikam.test', to: 'alice@contoso.test', subject: 'x', text: 'y' });
  } finally {
    transport.close();
  }
  const text = await waitFor('authentication results counted', async () => {
    const body = await (await fetch(`http://127.0.0.1:${gw.admin!.address.port}/metrics`)).text();
    return value(body, 'mxward_auth_results_total{method="spf",result="fail"}') === 1 ? body : null;
  });
  assert.equal(value(text, 'mxward_auth_results_total{method="dmarc",result="fail"}'), 1);
  assert.equal(value(text, 'mxward_auth_results_total{method="dkim",result="none"}'), 1);
  assert.ok(value(text, 'mxward_dns_lookup_duration_seconds_count{type="TXT"}') >= 2, 'the SPF and DMARC TXT lookups were timed');
});
