// The scenario from the seed material (issue 3), end to end with real clients: Reject Direct Send
// is off, our domain publishes SPF but no DMARC, and an anonymous client outside SPF spoofs one of
// our users. The message must be quarantined under AdminOnlyAccessPolicy with compauth=fail
// reason=6xx; the recipient cannot release it, an administrator can, and it is delivered once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { dnsServerUnavailable, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { hasCommand, mxward, run } from '../helpers/commands.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';

const unavailable = dnsServerUnavailable() ?? (hasCommand('swaks') ? null : 'swaks not installed');
let dns: TestDnsServer;
let gw: TestGateway;

before(async () => {
  if (unavailable) return;
  // 127.0.0.1 (the test client) is not in contoso.test's SPF record, and there is no _dmarc record.
  dns = await startDnsServer(['contoso.test. 60 IN TXT "v=spf1 ip4:192.0.2.25 -all"', 'contoso.test. 60 IN MX 10 mx.contoso.test.']);
  gw = await startTestGateway({
    config: { auth: { dnsServers: [dns.address], dnsTimeoutMs: 1000, dnsTries: 1 }, quarantine: { pollMs: 100 }, delivery: { rescanSeconds: 0.1 } },
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => {
  await gw?.close();
  await dns?.close();
});

test('anonymous spoof of our user from outside SPF: quarantined (AdminOnly), recipient refused, admin releases once', { skip: unavailable ?? false }, async () => {
  const sent = await run('swaks', [
    '--server', `127.0.0.1:${gw.inbound.port}`, '--helo', 'attacker.invalid', '--timeout', '10',
    '--from', 'ceo@contoso.test', '--to', 'alice@contoso.test',
    '--header', 'From: CEO <ceo@contoso.test>', '--header', 'Subject: Urgent wire transfer', '--body', 'Please pay the attached invoice today.',
  ]);
  // The attacker sees an ordinary acceptance: the quarantine is not something to argue with.
  assert.match(sent.stdout, /<- {1,2}250 2\.6\.0 <[A-Z0-9]+> Queued mail for delivery/);

  const record = await gw.waitForTrace({ sender: 'ceo@contoso.test', verdict: 'quarantine' });
  assert.equal(record.deliveryStatus, 'quarantined');
  assert.equal(record.directSend, 'p1');
  assert.equal(record.auth?.spf.result, 'fail');
  assert.equal(record.auth?.dmarc.result, 'none');
  assert.equal(record.auth?.compauth.result, 'fail');
  assert.match(record.auth?.compauth.reason ?? '', /^6\d\d$/);
  assert.ok(record.quarantineId);
  const id = record.quarantineId!;

  const shown = await mxward(gw.dataDir, ['quarantine', 'show', id, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  const item = JSON.parse(shown.stdout);
  assert.equal(item.policy, 'AdminOnlyAccessPolicy');
  assert.equal(item.kind, 'ownDomainSpoof');
  assert.equal(item.subject, 'Urgent wire transfer');

  // The recipient cannot see or release it.
  const listed = await mxward(gw.dataDir, ['quarantine', 'list', '--as', 'alice@contoso.test', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), []);
  const refused = await mxward(gw.dataDir, ['quarantine', 'release', id, '--as', 'alice@contoso.test']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^mxward quarantine: .*refused: AdminOnlyAccessPolicy gives recipients no access; only an administrator can release this message\n$/);
  assert.doesNotMatch(refused.stderr, /\bat .*\.ts:\d+/); // no stack trace
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await maildirMessages(gw.dataDir, 'alice@contoso.test')).length, 0);

  // An administrator releases it: delivered through the spool, once.
  const released = await mxward(gw.dataDir, ['quarantine', 'release', id, '--actor', 'admin@contoso.test']);
  assert.equal(released.code, 0, released.stderr);
  assert.match(released.stdout, /released .* to alice@contoso\.test/);
  const again = await mxward(gw.dataDir, ['quarantine', 'release', id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /nothing to release/);

  const delivered = await waitForMaildir(gw.dataDir, 'alice@contoso.test', 1);
  assert.equal(delivered.length, 1);
  assert.match(delivered[0], /^Authentication-Results: mx\.test\.example;[\s\S]*compauth=fail reason=6\d\d/m);
  assert.match(delivered[0], /^X-Mxward-Verdict: quarantine; released [A-Z0-9]+ by admin@contoso\.test$/m);
  assert.match(delivered[0], /Please pay the attached invoice today\./);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await maildirMessages(gw.dataDir, 'alice@contoso.test')).length, 1, 'delivered exactly once');

  const traced = await gw.waitForTrace({ sender: 'ceo@contoso.test', verdict: 'quarantine' });
  assert.equal(traced.deliveryStatus === 'delivered' || traced.deliveryStatus === 'queued', true);

  // Every action is in the audit log, the refusal included.
  const audit = await gw.store.listAudit(50);
  const actions = audit.map((a) => `${a.actor}|${a.action}`);
  assert.ok(actions.includes('gateway|quarantine.add'));
  assert.ok(actions.some((a) => a.endsWith('as alice@contoso.test|quarantine.release.refused')));
  assert.ok(actions.includes('admin@contoso.test|quarantine.release'));
  const file = join(gw.dataDir, 'quarantine', `${id}.eml`);
  assert.match(await readFile(file, 'utf8'), /Urgent wire transfer/, 'the quarantined copy is kept until retention ends');
});
