// A gateway with external tagging on and its own loopback DNS, and a nodemailer transport that
// DKIM-signs as fabrikam.test with a key that DNS publishes: for the tests that prove DKIM is
// verified on the original message before tagging changes it (issue 18).
import type { TestContext } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { startTestGateway } from './gateway.ts';
import type { TestGateway } from './gateway.ts';
import { startDnsServer, txt } from './dns-server.ts';

export async function startDkimTaggingGateway(t: TestContext, externalTagging: PolicyDocument['externalTagging']): Promise<{ gateway: TestGateway; transport: Transporter }> {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKey = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const dns = await startDnsServer([
    'fabrikam.test. 60 IN TXT "v=spf1 ip4:192.0.2.80 -all"',
    '_dmarc.fabrikam.test. 60 IN TXT "v=DMARC1; p=reject"',
    `s1._domainkey.fabrikam.test. 60 IN TXT ${txt(`v=DKIM1; k=rsa; p=${publicKey}`)}`,
  ]);
  t.after(() => dns.close());
  const gateway = await startTestGateway({
    config: { auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1 }, delivery: { rescanSeconds: 0.1 } },
    policy: (doc) => ({ ...doc, externalTagging, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
  t.after(() => gateway.close());
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: gateway.inbound.port, secure: false, ignoreTLS: true, name: 'mail.client.test',
    dkim: { domainName: 'fabrikam.test', keySelector: 's1', privateKey } });
  return { gateway, transport };
}
