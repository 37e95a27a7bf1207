// External sender tagging behind a real Postfix (issue 18 with the milter of issue 15): Postfix
// asks `mxward milter` at end of DATA, and applies the tag mxward answers with: X-Mxward-External
// inserted, the Subject changed (SMFIR_CHGHEADER), the banner as a new body (SMFIR_REPLBODY).
// The delivered Maildir copy is read by Python's email package. Partner mail is left alone, a
// signed message keeps its body.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import pino from 'pino';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { startMilterService } from '../../src/integrations/runtime.ts';
import type { RunningIntegration } from '../../src/integrations/runtime.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import { waitFor } from '../helpers/loopback.ts';
import { postfixUnavailable } from '../helpers/postfix.ts';
import { startPostfixFrontend } from '../helpers/postfix-frontend.ts';
import type { PostfixFrontend } from '../helpers/postfix-frontend.ts';
import { readParts } from '../helpers/tagging-readers.ts';

const skip = postfixUnavailable();
const EXTERNAL = 'This message came from outside your organization.';
const count = (text: string, needle: string) => text.replace(/\s+/g, ' ').split(needle).length - 1;
const fixture = (name: string) => readFileSync(new URL(`../fixtures/tagging/${name}`, import.meta.url), 'latin1');
const body = (m: string) => m.replace(/\r?\n/g, '\r\n').slice(m.replace(/\r?\n/g, '\r\n').indexOf('\r\n\r\n'));

let dataDir = '';
let milter: RunningIntegration;
let postfix: PostfixFrontend;

async function setPolicy(mutate: (doc: PolicyDocument) => PolicyDocument): Promise<void> {
  const saved = await changePolicy(milter.store, 'test', 'test.policy', mutate);
  await milter.livePolicy.waitForVersion(saved.version);
}

before(async () => {
  if (skip) return;
  dataDir = await mkdtemp(join(tmpdir(), 'mxward-milter-tag-'));
  const config = bootstrapSchema.parse({ hostname: 'mx.test.example', policyPollMs: 50, logLevel: 'silent', auth: { enabled: false } });
  milter = await startMilterService({ config, dataDir, logger: pino({ level: 'silent' }), listen: { host: '127.0.0.1', port: 0 } });
  postfix = await startPostfixFrontend({
    domains: ['example.test'], mailboxes: ['alice@example.test', 'bob@example.test', 'carol@example.test', 'dave@example.test', 'erin@example.test'],
    milterPort: (milter.address as { port: number }).port,
  });
  await setPolicy((doc) => ({
    ...doc, externalTagging: 'banner',
    acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }],
    connectors: [{
      name: 'bank', type: 'partner', enabled: true, senderDomains: ['bank.test'], senderIPAddresses: ['127.0.0.2/32'],
      tlsSenderCertificateName: null, restrictDomainsToIPAddresses: true, restrictDomainsToCertificate: false,
      requireTls: false, treatMessagesAsInternal: false, comment: '',
    }],
  }));
});

after(async () => {
  await postfix?.destroy();
  await milter?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function send(from: string, to: string, raw: string, localAddress = '127.0.0.1'): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: postfix.port, secure: false, ignoreTLS: true, name: 'client.test', localAddress });
  const info = await transport.sendMail({ envelope: { from, to }, raw });
  assert.deepEqual(info.accepted, [to]);
}

async function delivered(to: string): Promise<string> {
  const [message] = await waitFor(`${to} at Postfix`, async () => { const m = await postfix.messages(to); return m.length >= 1 && m; });
  return message;
}

const addressed = (name: string, to: string) => fixture(name).replace('To: <alice@contoso.test>', `To: <${to}>`);

test('banner mode: Postfix delivers the new body from the milter, the banner once in text and HTML', { skip: skip ?? false }, async () => {
  await send('billing@fabrikam.test', 'alice@example.test', addressed('alternative-qp-latin1.eml', 'alice@example.test'));
  const message = await delivered('alice@example.test');
  assert.match(message, /^X-Mxward-External: yes$/m);
  const [reading] = await readParts([Buffer.from(message, 'latin1')]);
  assert.deepEqual(reading.parts.map((p) => [p.type, count(p.text ?? '', EXTERNAL)]), [['text/plain', 1], ['text/html', 1]]);
  assert.ok(reading.parts[0].text?.includes('Mit freundlichen Grüßen'));
  const [record] = await waitFor('trace', async () => { const rows = await milter.store.queryTrace({ recipient: 'alice@example.test' }); return rows.length > 0 && rows; });
  assert.equal(record.source, 'postfix-milter');
  assert.ok(record.hits.some((h) => h.rule === 'externalTag' && /external banner added to text\/plain and text\/html/.test(h.detail)), JSON.stringify(record.hits));
});

test('banner mode: partner mail is left alone; a signed message keeps its body', { skip: skip ?? false }, async () => {
  await send('statements@bank.test', 'bob@example.test', addressed('html.eml', 'bob@example.test'), '127.0.0.2');
  const partner = await delivered('bob@example.test');
  assert.equal(count(partner, EXTERNAL), 0);
  assert.doesNotMatch(partner, /^X-Mxward-External:/m);
  await send('billing@fabrikam.test', 'carol@example.test', addressed('smime-signed.eml', 'carol@example.test'));
  const signed = await delivered('carol@example.test');
  assert.match(signed, /^X-Mxward-External: yes$/m);
  assert.equal(body(signed), body(fixture('smime-signed.eml')));
});

test('subject mode: the Subject is changed in place once; a tagged reply keeps one prefix', { skip: skip ?? false }, async () => {
  await setPolicy((doc) => ({ ...doc, externalTagging: 'subject' }));
  try {
    await send('billing@fabrikam.test', 'dave@example.test', addressed('plain.eml', 'dave@example.test'));
    const tagged = await delivered('dave@example.test');
    assert.deepEqual(tagged.split(/\r?\n/).filter((l) => /^subject:/i.test(l)), ['Subject: [EXTERNAL] Invoice 42']);
    assert.equal(count(tagged, EXTERNAL), 0, 'no banner in subject mode');
    await send('billing@fabrikam.test', 'erin@example.test', addressed('plain.eml', 'erin@example.test').replace('Subject: Invoice 42', 'Subject: RE: [EXTERNAL] Invoice 42'));
    const reply = await delivered('erin@example.test');
    assert.deepEqual(reply.split(/\r?\n/).filter((l) => /^subject:/i.test(l)), ['Subject: RE: [EXTERNAL] Invoice 42']);
  } finally {
    await setPolicy((doc) => ({ ...doc, externalTagging: 'banner' }));
  }
});
