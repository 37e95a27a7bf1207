// The inbound listener on IPv6 loopback: connectors match IPv6 ranges, and the trace keeps the
// IPv6 source address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { RawSession } from '../helpers/smtp-session.ts';

let gw: TestGateway | null = null;
let skip: string | false = false;

before(async () => {
  try {
    gw = await startTestGateway({
      inboundOverride: { host: '::1', port: 0 },
      policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
    });
  } catch (err) {
    skip = `no IPv6 loopback here: ${(err as Error).message}`;
  }
});
after(async () => { await gw?.close(); });

async function spoof(): Promise<string | null> {
  const s = await RawSession.open(gw!.inbound.port, '::1');
  try {
    await s.reply();
    await s.command('EHLO v6.client.test');
    await s.command('MAIL FROM:<ceo@contoso.test>');
    return await s.command('RCPT TO:<alice@contoso.test>');
  } finally {
    s.close();
  }
}

test('over ::1 an anonymous spoof is refused, and an IPv6 connector range admits it', async (t) => {
  if (skip) return t.skip(skip);
  assert.match(await spoof() ?? '', /^550 5\.7\.68 /);
  const refused = await gw!.waitForTrace({ ip: '::1', verdict: 'reject' });
  assert.equal(refused.directSend, 'p1');

  await gw!.setPolicy((doc) => ({ ...doc, connectors: [{ name: 'v6-relay', type: 'onPremises', enabled: true, senderDomains: ['contoso.test'], senderIPAddresses: ['::1/128'], tlsSenderCertificateName: null, restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false, requireTls: false, treatMessagesAsInternal: true, comment: '' }] }));
  assert.match(await spoof() ?? '', /^250 /);
});
