// Issue 15 end to end: a real Postfix in front, consulting `mxward policyd` at RCPT and
// `mxward milter` at end of DATA. swaks talks to Postfix only; every refusal below comes from
// Postfix, with mxward's catalogue reply, and the trace shows each decision with Postfix as source.
import { after, before, test } from 'node:test';
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
import { startPostfixFrontend } from '../helpers/postfix-frontend.ts';
import type { PostfixFrontend } from '../helpers/postfix-frontend.ts';

const skip = postfixUnavailable() ?? (hasCommand('swaks') ? null : 'swaks is not installed');
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
    extraHeaders: ['X-Mxward-AuthAs: Internal', 'X-MXWARD-Verdict: accept', 'Authentication-Results: mx.test.example; dmarc=pass header.from=example.test'],
  });
  assert.match(out, /<- +250 /, out);
  const message = await delivered('scan-1');
  const header = message.slice(0, message.indexOf('\n\n'));
  assert.match(header, /^X-Mxward-AuthAs: Partner$/m);
  assert.match(header, /^X-Mxward-Connector: scanner$/m);
  assert.doesNotMatch(header, /X-Mxward-AuthAs: Internal/i, 'the forged AuthAs is gone');
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
  assert.match(out, /<- +250 /, out);
  const message = await delivered('hfrom-2');
  assert.match(message, /^X-Mxward-DirectSend: header-from;would-reject$/m);
  assert.match(message, /^X-Mxward-AuthAs: Anonymous$/m);
  await setPolicy((doc) => ({ ...doc, rejectDirectSendHeaderFrom: 'enforce' }));
});

test('report mode: Postfix delivers the Direct Send with exactly one X-Mxward-DirectSend stamp', { skip: skip ?? false }, async () => {
  await setPolicy((doc) => ({ ...doc, rejectDirectSend: 'report' }));
  try {
    const out = await swaks({ from: 'ceo@example.test', subject: 'report-1' });
    assert.match(out, /<- +250 /, out);
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
