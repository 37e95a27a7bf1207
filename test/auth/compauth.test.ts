// SPEC §4 composite authentication and the §2.6 verdict, as tables (pure, no I/O).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeAuth } from '../../src/auth/compauth.ts';
import type { CompauthInput } from '../../src/auth/compauth.ts';
import { decideAuthVerdict } from '../../src/policy/auth-verdict.ts';
import type { AuthVerdictSettings } from '../../src/policy/auth-verdict.ts';

const base: CompauthInput = {
  bypass: null, author: { domain: 'fabrikam.test' }, authorIsOurs: false, p1IsOurs: false,
  spf: { result: 'fail', domain: 'fabrikam.test' }, dkim: [], dmarc: { result: 'none', policy: null }, trustedArcVouched: false,
};

const cases: Array<[string, Partial<CompauthInput>, string, string]> = [
  ['SMTP AUTH bypasses', { bypass: 'smtp-auth' }, 'none', '401'],
  ['on-premises connector bypasses', { bypass: 'on-premises' }, 'none', '402'],
  ['no From: an explicit fail, never none', { author: { problem: 'no-from' } }, 'fail', '301'],
  ['several author domains, no enforcing policy: an explicit fail', { author: { problem: 'multiple-domains' } }, 'fail', '302'],
  ['DMARC pass', { dmarc: { result: 'pass', policy: 'reject' } }, 'pass', '100'],
  ['trusted ARC vouches for a DMARC failure', { dmarc: { result: 'fail', policy: 'reject' }, trustedArcVouched: true }, 'pass', '130'],
  ['explicit DMARC fail (reject), foreign', { dmarc: { result: 'fail', policy: 'reject' } }, 'fail', '000'],
  ['explicit DMARC fail (quarantine), ours', { dmarc: { result: 'fail', policy: 'quarantine' }, authorIsOurs: true }, 'fail', '010'],
  ['no record, aligned SPF pass: implicit pass', { spf: { result: 'pass', domain: 'bounces.fabrikam.test' } }, 'pass', '109'],
  ['no record, unaligned DKIM pass: soft pass', { dkim: [{ result: 'pass', domain: 'esp.example' }] }, 'softpass', '201'],
  ['p=none fail, unaligned SPF pass: soft pass', { spf: { result: 'pass', domain: 'esp.example' }, dmarc: { result: 'fail', policy: 'none' } }, 'softpass', '202'],
  ['p=none fail, aligned pass impossible but nothing passes: implicit fail', { dmarc: { result: 'fail', policy: 'none' } }, 'fail', '001'],
  ['nothing passes, foreign: implicit fail', {}, 'fail', '001'],
  ['our domain, P1 ours, nothing passes: Direct Send spoof', { authorIsOurs: true, p1IsOurs: true }, 'fail', '601'],
  ['our domain, P1 foreign with its own SPF pass: still a spoof of us', { authorIsOurs: true, spf: { result: 'pass', domain: 'attacker.example' } }, 'fail', '602'],
  ['our domain with an aligned DKIM pass and no DMARC record: implicit pass', { authorIsOurs: true, dkim: [{ result: 'pass', domain: 'fabrikam.test' }] }, 'pass', '109'],
];

for (const [name, change, result, reason] of cases) {
  test(`compauth: ${name} -> ${result} reason=${reason}`, () => {
    const c = composeAuth({ ...base, ...change });
    assert.equal(c.result, result);
    assert.equal(c.reason, reason);
  });
}

const settings: AuthVerdictSettings = { honorDmarc: true, dmarcRejectAction: 'reject', antiSpoofAction: 'quarantine', junkScl: 6 };
const fail = (reason: string) => ({ result: 'fail' as const, reason, explanation: 'x' });

test('verdict: DMARC p=reject fail -> 550 5.7.509 naming the domain', () => {
  const v = decideAuthVerdict({ compauth: fail('000'), authorDomain: 'fabrikam.test', authorIsOurs: false, spf: 'fail', dkim: [], dmarc: { result: 'fail', policy: 'reject' } }, settings);
  assert.equal(v.verdict?.action, 'reject');
  assert.equal(`${v.verdict?.reply?.code} ${v.verdict?.reply?.enhanced} ${v.verdict?.reply?.text}`,
    '550 5.7.509 Access denied, sending domain [FABRIKAM.TEST] does not pass DMARC verification and has a DMARC policy of reject');
});

test('verdict: p=reject with dmarcRejectAction quarantine, p=quarantine, honorDmarc off', () => {
  const input = { compauth: fail('000'), authorDomain: 'fabrikam.test', authorIsOurs: false, spf: 'fail' as const, dkim: [], dmarc: { result: 'fail' as const, policy: 'reject' as const } };
  const q = decideAuthVerdict(input, { ...settings, dmarcRejectAction: 'quarantine' });
  assert.equal(q.verdict?.action, 'quarantine');
  assert.ok(q.verdict?.hits.some((h) => h.rule === 'dmarc.reject'));
  const pq = decideAuthVerdict({ ...input, dmarc: { result: 'fail', policy: 'quarantine' } }, settings);
  assert.ok(pq.verdict?.hits.some((h) => h.rule === 'dmarc.quarantine'));
  const off = decideAuthVerdict(input, { ...settings, honorDmarc: false, antiSpoofAction: 'junk' });
  assert.equal(off.verdict?.action, 'junk');
  assert.equal(off.scl, 6);
});

test('verdict: temperror only matters when the result is a failure', () => {
  const t = decideAuthVerdict({ compauth: fail('001'), authorDomain: 'x.test', authorIsOurs: false, spf: 'temperror', dkim: [], dmarc: { result: 'none', policy: null } }, settings);
  assert.equal(t.verdict?.action, 'tempfail');
  assert.equal(t.verdict?.reply?.enhanced, '4.7.26');
  const passing = decideAuthVerdict({ compauth: { result: 'pass', reason: '100', explanation: '' }, authorDomain: 'x.test', authorIsOurs: false, spf: 'temperror', dkim: ['pass'], dmarc: { result: 'pass', policy: 'reject' } }, settings);
  assert.equal(passing.verdict, null);
  const perm = decideAuthVerdict({ compauth: fail('001'), authorDomain: 'x.test', authorIsOurs: false, spf: 'permerror', dkim: ['permerror'], dmarc: { result: 'none', policy: null } }, settings);
  assert.equal(perm.verdict?.action, 'quarantine', 'permerror is a result, not a retry');
});

test('verdict: own-domain and foreign spoofs carry different rules (quarantine policy per type)', () => {
  const own = decideAuthVerdict({ compauth: fail('601'), authorDomain: 'contoso.test', authorIsOurs: true, spf: 'fail', dkim: [], dmarc: { result: 'none', policy: null } }, settings);
  const foreign = decideAuthVerdict({ compauth: fail('001'), authorDomain: 'x.test', authorIsOurs: false, spf: 'fail', dkim: [], dmarc: { result: 'none', policy: null } }, settings);
  assert.ok(own.verdict?.hits.some((h) => h.rule === 'antiSpoof.ownDomain'));
  assert.ok(foreign.verdict?.hits.some((h) => h.rule === 'antiSpoof.foreignDomain'));
  const bypass = decideAuthVerdict({ compauth: { result: 'none', reason: '401', explanation: '' }, authorDomain: null, authorIsOurs: false, spf: 'none', dkim: [], dmarc: { result: 'none', policy: null } }, settings);
  assert.deepEqual(bypass, { verdict: null, scl: -1 });
});
