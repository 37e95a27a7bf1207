// `mxward audit --postfix main.cf`: the wiring docs/postfix.md prescribes passes (the guide's own
// main.cf block is the fixture), and each way of leaving a Postfix unprotected fails by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditPostfix, parseMainCf, restrictionTokens } from '../../src/integrations/postfix-audit.ts';
import { mxward, repoRoot } from '../helpers/commands.ts';

async function guideMainCf(): Promise<string> {
  const doc = await readFile(join(repoRoot, 'docs', 'postfix.md'), 'utf8');
  const block = /## 2\. main\.cf\s+```\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, 'docs/postfix.md has a main.cf block');
  return block[1];
}

const statusOf = (text: string, id: string) => auditPostfix(parseMainCf(text, 'main.cf'), null).find((r) => r.id === id)!;

test('the main.cf lines of docs/postfix.md pass every required check', async () => {
  const results = auditPostfix(parseMainCf(await guideMainCf(), 'main.cf'), null);
  for (const r of results.filter((x) => x.required)) assert.equal(r.status, 'pass', `${r.id}: ${JSON.stringify(r.findings)}`);
});

const base = 'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service inet:127.0.0.1:10040\nsmtpd_milters = inet:127.0.0.1:10041\n';

const table: Array<[string, string, string, 'pass' | 'warn' | 'fail', RegExp]> = [
  ['no policy service at all', 'smtpd_milters = inet:127.0.0.1:10041\n', 'postfix.policy-service', 'fail', /no check_policy_service/],
  ['a plain permit before the policy check', 'smtpd_recipient_restrictions = permit, check_policy_service inet:127.0.0.1:10040\nsmtpd_milters = x\n', 'postfix.policy-service', 'fail', /permit comes before check_policy_service/],
  ['permit_auth_destination before it, over a continuation line', 'smtpd_recipient_restrictions =\n    permit_auth_destination,\n    check_policy_service { inet:127.0.0.1:10040, timeout=10s }\nsmtpd_milters = x\n', 'postfix.policy-service', 'fail', /permit_auth_destination comes before/],
  ['an access table before it only warns', 'smtpd_recipient_restrictions = reject_unauth_destination, check_client_access hash:/etc/postfix/clients, check_policy_service unix:private/mxward\nsmtpd_milters = x\n', 'postfix.policy-service', 'warn', /OK in that table skips mxward/],
  ['referenced through $name', 'mxward = check_policy_service inet:127.0.0.1:10040\nsmtpd_recipient_restrictions = reject_unauth_destination, $mxward\nsmtpd_milters = x\n', 'postfix.policy-service', 'pass', /check_policy_service inet:127\.0\.0\.1:10040/],
  ['milter_default_action = accept', `${base}milter_default_action = accept\n`, 'postfix.fail-closed', 'fail', /accepted unchecked/],
  ['the last definition wins', `${base}milter_default_action = accept\nmilter_default_action = tempfail\n`, 'postfix.fail-closed', 'pass', /tempfail/],
  ['no milter', 'smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:10040\n', 'postfix.fail-closed', 'fail', /smtpd_milters is not set/],
  ['a policy default that lets mail through', `${base}smtpd_policy_service_default_action = DUNNO\n`, 'postfix.fail-closed', 'fail', /mail passes while mxward is down/],
  ['no client certificates requested (advisory)', base, 'postfix.client-certificates', 'warn', /never match/],
];

for (const [name, text, id, status, detail] of table) {
  test(`audit: ${name}`, () => {
    const r = statusOf(text, id);
    assert.equal(r.status, status, JSON.stringify(r.findings));
    assert.ok(r.findings.some((f) => detail.test(f.detail)), JSON.stringify(r.findings));
  });
}

test('a certificate connector makes a missing smtpd_tls_ask_ccert a finding that names it', () => {
  const policy = { connectors: [{ name: 'partner-a', enabled: true, tlsSenderCertificateName: 'relay.partner.test' }] } as never;
  const [, , certs] = auditPostfix(parseMainCf(base, 'main.cf'), policy);
  assert.match(certs.findings[0].detail, /\(partner-a\) never match/);
});

test('restriction lists: commas, spaces and { } groups', () => {
  assert.deepEqual(restrictionTokens('a, b  c,{ x, y },d'), ['a', 'b', 'c', '{ x, y }', 'd']);
});

test('CLI: a wired Postfix exits 0, an unprotected one 1, an unreadable main.cf 2 naming file and line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-audit-postfix-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.cf');
  const bad = join(dir, 'bad.cf');
  const broken = join(dir, 'broken.cf');
  await writeFile(good, await guideMainCf());
  await writeFile(bad, `${base}milter_default_action = accept\n`);
  await writeFile(broken, 'smtpd_milters = x\nthis line is not a parameter\n');
  const dataDir = join(dir, 'no-store');
  const ok = await mxward(dataDir, ['audit', '--postfix', good]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /PASS\s+Postfix consults mxward at RCPT/);
  const failed = await mxward(dataDir, ['audit', '--postfix', bad, '--json']);
  assert.equal(failed.code, 1);
  const json = JSON.parse(failed.stdout) as { passed: boolean; checks: Array<{ id: string; status: string }> };
  assert.equal(json.checks.find((c) => c.id === 'postfix.fail-closed')?.status, 'fail');
  const unreadable = await mxward(dataDir, ['audit', '--postfix', broken]);
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /broken\.cf: line 2: expected "name = value"/);
  const missing = await mxward(dataDir, ['audit', '--postfix', join(dir, 'absent.cf')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /absent\.cf: no such file/);
});
