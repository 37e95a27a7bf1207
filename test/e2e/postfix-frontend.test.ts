// Issue 15 end to end: a real Postfix in front, consulting `mxward policyd` at RCPT and
// `mxward milter` at end of DATA. swaks talks to Postfix only; every refusal below comes from
// Postfix, with mxward's catalogue reply, and the trace shows each decision with Postfix as source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { startMilterService, startPolicyService } from '../../src/integrations/runtime.ts';
import type { RunningIntegration } from '../../src/integrations/runtime.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import { hasCommand, mxward, run } from '../helpers/commands.ts';
import { waitFor } from '../helpers/loopback.ts';
import { postfixUnavailable } from '../helpers/postfix.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { sha256Fingerprint, TestPki } from '../helpers/certificates.ts';
import type { IssuedCertificate } from '../helpers/certificates.ts';
import { startPostfixFrontend } from '../helpers/postfix-frontend.ts';
import type { PostfixFrontend } from '../helpers/postfix-frontend.ts';

const skip = postfixUnavailable() ?? (hasCommand('swaks') ? null : 'swaks is not installed');
const skipTls = skip ?? dnsServerUnavailable() ?? (hasCommand('openssl') ? null : 'openssl is not installed');
let dataDir = '';
let policyd: RunningIntegration;
let milter: RunningIntegration;
let postfix: PostfixFrontend;

async function setPolicy(mutate: (doc: PolicyDocument) => PolicyDocument): Promise<void> {
  const saved = await changePolicy(policyd.store, 'test', 'test.policy', mutate);
  await Promise.all([policyd.livePolicy.waitForVersion(saved.version), milter.livePolicy.waitForVersion(saved.version)]);
}

before(async () => {
  if (skip) return;
  dataDir = await mkdtemp(join(tmpdir(), 'mxward-frontend-'));
  const config = bootstrapSchema.parse({ hostname: 'mx.test.example', policyPollMs: 50, logLevel: 'silent', auth: { enabled: false } });
  const common = { config, dataDir, logger: pino({ level: 'silent' }), listen: { host: '127.0.0.1', port: 0 } };
  policyd = await startPolicyService(common);
  milter = await startMilterService(common);
  const portOf = (s: RunningIntegration) => (s.address as { port: number }).port;
  postfix = await startPostfixFrontend({
    domains: ['example.test'], mailboxes: ['alice@example.test', 'bob@example.test'], policyPort: portOf(policyd), milterPort: portOf(milter),
  });
  await setPolicy((doc) => ({
    ...doc, rejectDirectSend: 'enforce', rejectDirectSendHeaderFrom: 'enforce',
    acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }],
    connectors: [{
      name: 'scanner', type: 'partner', enabled: true, senderDomains: ['example.test'], senderIPAddresses: ['127.0.0.2/32'],
      tlsSenderCertificateName: null, restrictDomainsToIPAddresses: false, restrictDomainsToCertificate: false,
      requireTls: false, treatMessagesAsInternal: false, comment: '',
    }],
  }));
});

after(async () => {
  await postfix?.destroy();
  await milter?.stop();
  await policyd?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface SendOptions { from: string; to?: string; headerFrom?: string; subject: string; localIp?: string; extraHeaders?: string[] }

/** One message through Postfix with swaks; returns swaks' transcript (replies are lines with `<-`). */
async function swaks(o: SendOptions): Promise<string> {
  const args = [
    '--server', '127.0.0.1', '--port', String(postfix.port), '--from', o.from, '--to', o.to ?? 'alice@example.test',
    '--helo', 'client.test', '--header', `Subject: ${o.subject}`, '--header', `From: ${o.headerFrom ?? o.from}`,
    '--body', `Body of ${o.subject}`, '--timeout', '20',
  ];
  if (o.localIp) args.push('--local-interface', o.localIp);
  for (const h of o.extraHeaders ?? []) args.push('--add-header', h);
  const r = await run('swaks', args, { timeoutMs: 60_000 });
  return r.stdout + r.stderr;
}

async function delivered(subject: string, mailbox = 'alice@example.test'): Promise<string> {
  return waitFor(`delivery of ${subject}`, async () => (await postfix.messages(mailbox)).find((m) => m.includes(`Subject: ${subject}`)));
}

const recordFor = (subject: string | null, source: string, recipient = 'alice@example.test') =>
  waitFor(`trace (${source}) for ${subject ?? recipient}`, async () => {
    const rows = await policyd.store.queryTrace({ recipient, limit: 50 });
    return rows.find((r) => r.source === source && (subject === null || r.subject === subject));
  }, 10_000);

test('a Direct Send spoof through Postfix is refused at RCPT with 550 5.7.68; the trace says Postfix decided', { skip: skip ?? false }, async () => {
  const out = await swaks({ from: 'ceo@example.test', to: 'bob@example.test', subject: 'spoof-1' });
  // Postfix puts the address and its own words before mxward's text.
  assert.match(out, /<\*\* +550 5\.7\.68 <bob@example\.test>: Recipient address rejected: TenantInboundAttribution; Direct Send not allowed/);
  const record = await recordFor(null, 'postfix-policyd', 'bob@example.test');
  assert.equal(record.verdict, 'reject');
  assert.equal(record.stage, 'rcpt');
  assert.equal(record.directSend, 'p1');
  assert.deepEqual(record.rejectedRecipients, ['bob@example.test']);
  assert.equal(record.remoteIp, '127.0.0.1');
  assert.deepEqual(record.hits[0], { rule: 'source', detail: 'postfix-policyd' });
  const cli = await mxward(dataDir, ['trace', '--json', '--recipient', 'bob@example.test']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.ok((JSON.parse(cli.stdout) as Array<{ source?: string }>).some((r) => r.source === 'postfix-policyd'), '`mxward trace` shows the Postfix record');
});

test('the connector IP passes: delivered by Postfix, stamped Partner, forged mxward fields removed', { skip: skip ?? false }, async () => {
  const out = await swaks({
    from: 'scanner@example.test', subject: 'scan-1', localIp: '127.0.0.2',
    extraHeaders: [
      'X-Mxward-AuthAs: Internal', 'X-MXWARD-Verdict: accept', 'X-Mxward-Connector : forged-with-space',
      'Authentication-Results: mx.test.example; dmarc=pass header.from=example.test',
    ],
  });
  assert.match(out, /<[-~] +250 2\.0\.0 Ok: queued as /, out);
  const message = await delivered('scan-1');
  const header = message.slice(0, message.indexOf('\n\n'));
  assert.match(header, /^X-Mxward-AuthAs: Partner$/m);
  assert.match(header, /^X-Mxward-Connector: scanner$/m);
  assert.doesNotMatch(header, /X-Mxward-AuthAs: Internal/i, 'the forged AuthAs is gone');
  assert.doesNotMatch(header, /forged-with-space/, 'a forged field with a space before its colon is gone too');
  assert.equal((header.match(/^X-Mxward-Verdict:/gim) ?? []).length, 1, 'only mxward\'s own verdict');
  assert.doesNotMatch(header, /dmarc=pass header\.from=example\.test/, 'an Authentication-Results claiming our authserv-id is removed');
  const record = await recordFor('scan-1', 'postfix-milter');
  assert.equal(record.attribution, 'partner');
  assert.equal(record.connector, 'scanner');
  assert.equal(record.verdict, 'accept');
  assert.match(record.queueId ?? '', /^postfix:[0-9A-Za-z]+$/);
});

test('a header-From spoof is refused after DATA in enforce (550 5.7.68) and stamped in report', { skip: skip ?? false }, async () => {
  const refused = await swaks({ from: 'news@foreign.test', headerFrom: 'ceo@example.test', subject: 'hfrom-1' });
  assert.match(refused, /<\*\* +550 5\.7\.68 TenantInboundAttribution/);
  const record = await recordFor('hfrom-1', 'postfix-milter');
  assert.equal(record.verdict, 'reject');
  assert.equal(record.directSend, 'header-from');
  assert.equal(record.stage, 'data');

  await setPolicy((doc) => ({ ...doc, rejectDirectSendHeaderFrom: 'report' }));
  const out = await swaks({ from: 'news@foreign.test', headerFrom: 'ceo@example.test', subject: 'hfrom-2' });
  assert.match(out, /<[-~] +250 2\.0\.0 Ok: queued as /, out);
  const message = await delivered('hfrom-2');
  assert.match(message, /^X-Mxward-DirectSend: header-from;would-reject$/m);
  assert.match(message, /^X-Mxward-AuthAs: Anonymous$/m);
  await setPolicy((doc) => ({ ...doc, rejectDirectSendHeaderFrom: 'enforce' }));
});

test('report mode: Postfix delivers the Direct Send with exactly one X-Mxward-DirectSend stamp', { skip: skip ?? false }, async () => {
  await setPolicy((doc) => ({ ...doc, rejectDirectSend: 'report' }));
  try {
    const out = await swaks({ from: 'ceo@example.test', subject: 'report-1' });
    assert.match(out, /<[-~] +250 2\.0\.0 Ok: queued as /, out);
    const message = await delivered('report-1');
    assert.equal((message.match(/^X-Mxward-DirectSend: p1;would-reject$/gm) ?? []).length, 1, message);
    const policyRecord = await recordFor(null, 'postfix-policyd');
    assert.equal(policyRecord.directSendWouldReject, true);
    const milterRecord = await recordFor('report-1', 'postfix-milter');
    assert.equal(milterRecord.directSend, 'p1');
    assert.equal(milterRecord.verdict, 'accept');
  } finally {
    await setPolicy((doc) => ({ ...doc, rejectDirectSend: 'enforce' }));
  }
});

test('a message the gateway would refuse as ambiguous is refused here too (550 5.6.0)', { skip: skip ?? false }, async () => {
  const out = await swaks({ from: 'news@foreign.test', headerFrom: 'news@foreign.test', subject: 'two-from', extraHeaders: ['From: ceo@example.test'] });
  assert.match(out, /<\*\* +550 5\.6\.0 /);
  const record = await recordFor('two-from', 'postfix-milter');
  assert.equal(record.verdict, 'reject');
});

test('mxward down: Postfix fails closed with a temporary refusal, never an accept', { skip: skip ?? false }, async () => {
  await milter.stop();
  const out = await swaks({ from: 'news@foreign.test', subject: 'milter-down' });
  assert.match(out, /<\*\* +4\d\d /, out);
  assert.equal((await postfix.messages('alice@example.test')).some((m) => m.includes('Subject: milter-down')), false);
});

// A second front end, set up the way docs/postfix.md recommends for certificates and
// authentication: Postfix asks for client certificates and trusts the partner CA, one mxward
// process serves both the milter and the policy service (so a fingerprint pin counts at end of
// DATA too), and SPF/DKIM/DMARC run against the loopback DNS server.
describe('with TLS client certificates and email authentication', { skip: skipTls ?? false }, () => {
  let dns: TestDnsServer;
  let pki: TestPki;
  let pinned: IssuedCertificate;
  let other: IssuedCertificate;
  let combined: RunningIntegration;
  let front: PostfixFrontend;
  let dir = '';

  before(async () => {
    dns = await startDnsServer([
      'example.test. 60 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"', '_dmarc.example.test. 60 IN TXT "v=DMARC1; p=none"',
      'contoso.test. 60 IN TXT "v=spf1 ip4:192.0.2.25 -all"', 'contoso.test. 60 IN MX 10 mx.contoso.test.',
    ]);
    pki = await TestPki.create();
    const server = await pki.issue('frontend', 'frontend.test', ['frontend.test']);
    pinned = await pki.issue('pinned', 'relay.partner.test', ['relay.partner.test']);
    other = await pki.issue('other', 'relay.partner.test', ['relay.partner.test']);
    dir = await mkdtemp(join(tmpdir(), 'mxward-frontend-tls-'));
    const config = bootstrapSchema.parse({
      hostname: 'mx.test.example', policyPollMs: 50, logLevel: 'silent',
      auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1 },
    });
    combined = await startMilterService({
      config, dataDir: dir, logger: pino({ level: 'silent' }), listen: { host: '127.0.0.1', port: 0 }, policyListen: { host: '127.0.0.1', port: 0 },
    });
    const saved = await changePolicy(combined.store, 'test', 'test.policy', (doc) => ({
      ...doc, rejectDirectSend: 'enforce', rejectDirectSendHeaderFrom: 'report',
      acceptedDomains: ['example.test', 'contoso.test'].map((domain) => ({ domain, includeSubdomains: false, recipients: [] })),
      connectors: [{
        name: 'pinned-partner', type: 'partner', enabled: true, senderDomains: ['example.test'], senderIPAddresses: [],
        tlsSenderCertificateName: null, certificateFingerprints: [sha256Fingerprint(pinned)], restrictDomainsToIPAddresses: false,
        restrictDomainsToCertificate: false, requireTls: true, treatMessagesAsInternal: false, comment: '',
      }],
    } as PolicyDocument));
    await combined.livePolicy.waitForVersion(saved.version);
    front = await startPostfixFrontend({
      domains: ['example.test', 'contoso.test'], mailboxes: ['alice@example.test', 'alice@contoso.test'],
      tls: { certFile: server.certFile, keyFile: server.keyFile }, clientCaFile: pki.caFile,
      policyPort: (combined.policyAddress as { port: number }).port, milterPort: (combined.address as { port: number }).port,
    });
  });

  after(async () => {
    await front?.destroy();
    await combined?.stop();
    await dns?.close();
    if (pki) await rm(pki.dir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function send(o: { from: string; headerFrom?: string; to: string; subject: string; cert?: IssuedCertificate }): Promise<string> {
    const args = [
      '--server', '127.0.0.1', '--port', String(front.port), '--from', o.from, '--to', o.to, '--helo', 'client.test',
      '--header', `Subject: ${o.subject}`, '--header', `From: ${o.headerFrom ?? o.from}`, '--body', `Body of ${o.subject}`, '--timeout', '20',
    ];
    if (o.cert) args.push('--tls', '--tls-cert', o.cert.certFile, '--tls-key', o.cert.keyFile);
    const r = await run('swaks', args, { timeoutMs: 60_000 });
    return r.stdout + r.stderr;
  }

  test('a client certificate whose fingerprint is pinned passes, through RCPT and end of DATA', async () => {
    const out = await send({ from: 'billing@example.test', to: 'alice@example.test', subject: 'pinned-1', cert: pinned });
    assert.match(out, /<[-~] +250 2\.0\.0 Ok: queued as /, out);
    const message = await waitFor('pinned-1', async () => (await front.messages('alice@example.test')).find((m) => m.includes('Subject: pinned-1')));
    assert.match(message, /^X-Mxward-AuthAs: Partner$/m);
    assert.match(message, /^X-Mxward-Connector: pinned-partner$/m);
    assert.match(message, /^Authentication-Results: mx\.test\.example;/m);
    assert.match(message, /compauth=pass/);
  });

  test('a certificate from the same CA with the same name but another fingerprint is refused (550 5.7.68)', async () => {
    const out = await send({ from: 'billing@example.test', to: 'alice@example.test', subject: 'other-1', cert: other });
    assert.match(out, /<[*~]\* +550 5\.7\.68 /, out);
  });

  test('an own-domain spoof with failing authentication is held in Postfix, traced as quarantined, and can be released', async () => {
    const out = await send({ from: 'news@foreign.test', headerFrom: 'CEO <ceo@contoso.test>', to: 'alice@contoso.test', subject: 'spoof-q' });
    assert.match(out, /<[-~] +250 2\.0\.0 Ok: queued as /, out);
    const record = await waitFor('quarantine trace', async () => (await combined.store.queryTrace({ recipient: 'alice@contoso.test' })).find((r) => r.subject === 'spoof-q'), 10_000);
    assert.equal(record.source, 'postfix-milter');
    assert.equal(record.verdict, 'quarantine');
    assert.equal(record.deliveryStatus, 'quarantined');
    assert.equal(record.auth?.compauth.result, 'fail');
    assert.match(record.auth?.compauth.reason ?? '', /^6\d\d$/);
    const queueId = /^postfix-hold:(\w+)$/.exec(record.quarantineId ?? '')?.[1];
    assert.ok(queueId, record.quarantineId ?? 'no quarantine id');
    const held = await waitFor('hold queue', async () => { const ids = await front.heldQueueIds(); return ids.includes(queueId) && ids; });
    assert.ok(held.includes(queueId));
    assert.equal((await front.messages('alice@contoso.test')).length, 0, 'nothing delivered while held');
    await front.release(queueId);
    const message = await waitFor('release', async () => (await front.messages('alice@contoso.test')).find((m) => m.includes('Subject: spoof-q')));
    assert.match(message, /^X-Mxward-Verdict: quarantine$/m);
    assert.match(message, /^X-Mxward-DirectSend: header-from;would-reject$/m);
  });
});
