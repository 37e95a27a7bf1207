// Issue 19 as tables (pure): every DMARC result has a compauth outcome, an ambiguous or missing
// author is never "none", alignment follows the Public Suffix List, and a temperror gives 451
// only when the verdict depends on the missing answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeAuth } from '../../src/auth/compauth.ts';
import type { CompauthInput } from '../../src/auth/compauth.ts';
import { decideAuthVerdict, temperrorDecides } from '../../src/policy/auth-verdict.ts';
import type { AuthVerdictInput, AuthVerdictSettings } from '../../src/policy/auth-verdict.ts';
import { organizationalDomain, relaxedAligned } from '../../src/auth/org-domain.ts';

const base: CompauthInput = {
  bypass: null, author: { domain: 'bank.test' }, authorIsOurs: false, p1IsOurs: false,
  spf: { result: 'fail', domain: 'evil.test' }, dkim: [], dmarc: { result: 'fail', policy: 'reject' }, trustedArcVouched: false,
};

const cases: Array<[string, Partial<CompauthInput>, string, string]> = [
  ['DMARC temperror, attacker DKIM pass: fail 003, never softpass', { dmarc: { result: 'temperror', policy: null }, dkim: [{ result: 'pass', domain: 'evil.test' }] }, 'fail', '003'],
  ['DMARC temperror, attacker SPF pass: fail 003', { dmarc: { result: 'temperror', policy: null }, spf: { result: 'pass', domain: 'evil.test' } }, 'fail', '003'],
  ['DMARC temperror, DKIM pass by the author domain itself: pass 105', { dmarc: { result: 'temperror', policy: null }, dkim: [{ result: 'pass', domain: 'bank.test' }] }, 'pass', '105'],
  ['DMARC temperror, DKIM pass by a sibling (alignment mode unknown): fail 003', { dmarc: { result: 'temperror', policy: null }, dkim: [{ result: 'pass', domain: 'mail.bank.test' }] }, 'fail', '003'],
  ['DMARC permerror is no policy: implicit rules, unaligned pass softpass', { dmarc: { result: 'permerror', policy: null }, spf: { result: 'pass', domain: 'evil.test' } }, 'softpass', '202'],
  ['DMARC permerror, nothing passes: implicit fail', { dmarc: { result: 'permerror', policy: null } }, 'fail', '001'],
  ['DMARC none, aligned pass of a child: 109', { dmarc: { result: 'none', policy: null }, spf: { result: 'pass', domain: 'bounce.bank.test' } }, 'pass', '109'],
  ['no record, x@<shared parent> with an attacker child of a public suffix: not aligned', { author: { domain: 'co.uk' }, dmarc: { result: 'none', policy: null }, dkim: [{ result: 'pass', domain: 'attacker.co.uk' }] }, 'softpass', '201'],
  ['no record, sibling on a private-suffix host: not aligned', { author: { domain: 'victim.github.io' }, dmarc: { result: 'none', policy: null }, spf: { result: 'pass', domain: 'attacker.github.io' } }, 'softpass', '202'],
  ['no record, aligned DKIM pass with l= not covering the body: not aligned', { dmarc: { result: 'none', policy: null }, dkim: [{ result: 'pass', domain: 'bank.test', partial: true }] }, 'softpass', '201'],
  ['no From: fail 301', { author: { problem: 'no-from' } }, 'fail', '301'],
  ['ambiguous author naming a p=reject domain: DMARC fail 000', { author: { problem: 'ambiguous', domains: ['bank.test', 'evil.test'] } }, 'fail', '000'],
  ['ambiguous author naming our domain, p=quarantine: 010', { author: { problem: 'ambiguous', domains: ['contoso.test'] }, authorIsOurs: true, dmarc: { result: 'fail', policy: 'quarantine' } }, 'fail', '010'],
  ['ambiguous author, no enforcing policy: fail 302, never none', { author: { problem: 'ambiguous', domains: ['a.test', 'b.test'] }, dmarc: { result: 'fail', policy: null } }, 'fail', '302'],
  ['ambiguous author with an SPF pass: still fail', { author: { problem: 'ambiguous' }, spf: { result: 'pass', domain: 'evil.test' }, dmarc: { result: 'fail', policy: null } }, 'fail', '302'],
];

for (const [name, change, result, reason] of cases) {
  test(`compauth under attack: ${name} -> ${result} reason=${reason}`, () => {
    const c = composeAuth({ ...base, ...change });
    assert.deepEqual([c.result, c.reason], [result, reason]);
  });
}

test('organizational domains come from the Public Suffix List', () => {
  assert.equal(organizationalDomain('a.b.bank.test'), 'bank.test');
  assert.equal(organizationalDomain('mail.example.co.uk'), 'example.co.uk');
  assert.equal(organizationalDomain('x.victim.github.io'), 'victim.github.io');
  assert.equal(relaxedAligned('mail.bank.test', 'bank.test'), true);
  assert.equal(relaxedAligned('a.co.uk', 'b.co.uk'), false);
  assert.equal(relaxedAligned('co.uk', 'a.co.uk'), false);
});

const settings: AuthVerdictSettings = { honorDmarc: true, dmarcRejectAction: 'reject', antiSpoofAction: 'quarantine', junkScl: 6 };
const fail = (reason: string) => ({ result: 'fail' as const, reason, explanation: 'x' });
const input = (change: Partial<AuthVerdictInput>): AuthVerdictInput => ({
  compauth: fail('000'), authorDomain: 'bank.test', authorIsOurs: false, spf: 'fail', spfAligned: false, dkim: [], dkimAligned: [], dmarc: { result: 'fail', policy: 'reject' }, ...change,
});

const temperrorCases: Array<[string, Partial<AuthVerdictInput>, boolean]> = [
  ['the victim DMARC record timed out', { compauth: fail('003'), dmarc: { result: 'temperror', policy: null } }, true],
  ['an unaligned selector SERVFAILs on a certain DMARC reject', { dkim: ['temperror'], dkimAligned: [false] }, false],
  ['the aligned selector SERVFAILs on a DMARC reject', { dkim: ['temperror'], dkimAligned: [true] }, true],
  ['SPF of an unaligned MAIL FROM times out', { spf: 'temperror', spfAligned: false }, false],
  ['SPF of the aligned MAIL FROM times out', { spf: 'temperror', spfAligned: true }, true],
  ['alignment not given: assumed to matter', { dkim: ['temperror'], dkimAligned: undefined }, true],
  ['implicit 001: an unaligned pass would have been softpass', { compauth: fail('001'), dmarc: { result: 'none', policy: null }, dkim: ['temperror'], dkimAligned: [false] }, true],
  ['own domain 602: an unaligned temperror cannot rescue it', { compauth: fail('602'), authorIsOurs: true, dmarc: { result: 'none', policy: null }, spf: 'temperror', spfAligned: false }, false],
  ['no From: nothing could pass', { compauth: fail('301'), authorDomain: null, dmarc: { result: 'temperror', policy: null } }, false],
];

for (const [name, change, expected] of temperrorCases) {
  test(`temperror scoped: ${name} -> ${expected ? '451' : 'final verdict'}`, () => {
    assert.equal(temperrorDecides(input(change)), expected);
    const v = decideAuthVerdict(input(change), settings);
    if (expected) assert.equal(v.verdict?.reply?.code, 451);
    else assert.notEqual(v.verdict?.action, 'tempfail');
  });
}

test('verdict: an unaligned SERVFAIL keeps the certain 550 5.7.509', () => {
  const v = decideAuthVerdict(input({ dkim: ['temperror', 'pass'], dkimAligned: [false, false] }), settings);
  assert.equal(v.verdict?.action, 'reject');
  assert.match(v.verdict?.reply?.text ?? '', /BANK\.TEST/);
});

test('verdict: no From and ambiguous authors are never accepted silently', () => {
  const none = decideAuthVerdict(input({ compauth: fail('301'), authorDomain: null, dmarc: { result: 'none', policy: null } }), settings);
  assert.equal(none.verdict?.action, 'quarantine');
  assert.ok(none.verdict?.hits.some((h) => h.rule === 'antiSpoof.foreignDomain' && /without a single author/.test(h.detail)));
  const ambiguousOurs = decideAuthVerdict(input({ compauth: fail('302'), authorIsOurs: true, dmarc: { result: 'fail', policy: null } }), { ...settings, antiSpoofAction: 'reject' });
  assert.equal(ambiguousOurs.verdict?.reply?.code, 550);
  const ambiguousReject = decideAuthVerdict(input({ compauth: fail('000') }), settings);
  assert.equal(ambiguousReject.verdict?.action, 'reject');
});
