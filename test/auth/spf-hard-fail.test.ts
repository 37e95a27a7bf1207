// auth.spfHardFailAction (issue 18) as a table: SPF fail is its own rule (spf.hardFail) for
// anonymous and partner mail compauth did not pass; pure, no I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideAuthVerdict, SPF_HARD_FAIL_RULE } from '../../src/policy/auth-verdict.ts';
import type { AuthVerdictInput, AuthVerdictSettings } from '../../src/policy/auth-verdict.ts';
import { authSchema } from '../../src/config/auth-schema.ts';
import { renderReply } from '../../src/policy/replies.ts';

type Action = NonNullable<AuthVerdictSettings['spfHardFailAction']>;
const settings = (spfHardFailAction: Action, antiSpoofAction: AuthVerdictSettings['antiSpoofAction'] = 'quarantine'): AuthVerdictSettings =>
  ({ honorDmarc: true, dmarcRejectAction: 'reject', antiSpoofAction, junkScl: 6, spfHardFailAction });

// Unaligned DKIM pass, SPF fail, no DMARC record: compauth softpass 201, accepted without the action.
const softpass: AuthVerdictInput = {
  compauth: { result: 'softpass', reason: '201', explanation: 'x' }, authorDomain: 'woodgrove.test', authorIsOurs: false,
  spf: 'fail', spfAligned: true, dkim: ['pass'], dkimAligned: [false], dmarc: { result: 'none', policy: null }, attribution: 'anonymous',
};

const rows: Array<[string, Partial<AuthVerdictInput>, Action, string | null, number | null]> = [
  ['none keeps today\'s accept', {}, 'none', null, null],
  ['junk', {}, 'junk', 'junk', 6],
  ['quarantine', {}, 'quarantine', 'quarantine', 6],
  ['reject', {}, 'reject', 'reject', null],
  ['partner mail is judged too', { attribution: 'partner' }, 'reject', 'reject', null],
  ['softfail (~all) is not a hard fail', { spf: 'softfail' }, 'reject', null, null],
  ['SPF none is not a hard fail', { spf: 'none' }, 'reject', null, null],
  ['compauth pass (DMARC via aligned DKIM) wins over SPF fail', { compauth: { result: 'pass', reason: '100', explanation: 'x' }, dmarc: { result: 'pass', policy: 'reject' } }, 'reject', null, null],
  ['internal mail is never judged', { attribution: 'internal', compauth: { result: 'none', reason: '402', explanation: 'x' } }, 'reject', null, -1],
  ['compauth none (no author check) with SPF fail', { compauth: { result: 'none', reason: '000', explanation: 'x' } }, 'quarantine', 'quarantine', 6],
];

for (const [name, change, action, expected, scl] of rows) {
  test(`spfHardFailAction ${action}: ${name} -> ${expected ?? 'no verdict'}`, () => {
    const v = decideAuthVerdict({ ...softpass, ...change }, settings(action));
    assert.equal(v.verdict?.action ?? null, expected);
    assert.equal(v.scl, scl);
    if (expected) {
      assert.ok(v.verdict?.hits.some((h) => h.rule === SPF_HARD_FAIL_RULE), 'traced as its own rule');
    }
  });
}

test('reject uses the catalogue reply 550 5.7.23', () => {
  const v = decideAuthVerdict(softpass, settings('reject'));
  assert.match(renderReply(v.verdict!.reply!), /^550 5\.7\.23 .*SPF hard fail/);
});

test('compauth fail: the stricter of anti-spoof and SPF hard fail decides, both rules traced', () => {
  const failing: AuthVerdictInput = { ...softpass, compauth: { result: 'fail', reason: '001', explanation: 'x' }, dkim: [] };
  const stricter = decideAuthVerdict(failing, settings('reject', 'junk'));
  assert.equal(stricter.verdict?.action, 'reject');
  assert.equal(stricter.verdict?.reply?.enhanced, '5.7.23');
  assert.deepEqual(stricter.verdict?.hits.map((h) => h.rule), ['compauth', 'antiSpoof.foreignDomain', SPF_HARD_FAIL_RULE]);
  const milder = decideAuthVerdict(failing, settings('junk', 'quarantine'));
  assert.equal(milder.verdict?.action, 'quarantine');
  assert.deepEqual(milder.verdict?.hits.map((h) => h.rule), ['compauth', 'antiSpoof.foreignDomain', SPF_HARD_FAIL_RULE]);
  const unchanged = decideAuthVerdict(failing, settings('none', 'quarantine'));
  assert.deepEqual(unchanged.verdict?.hits.map((h) => h.rule), ['compauth', 'antiSpoof.foreignDomain']);
});

test('a pending temperror stays a retry even with a reject action', () => {
  const v = decideAuthVerdict({ ...softpass, compauth: { result: 'fail', reason: '001', explanation: 'x' }, dkim: ['temperror'], dkimAligned: [true] }, settings('reject'));
  assert.equal(v.verdict?.action, 'tempfail');
  assert.ok(v.verdict?.hits.some((h) => h.rule === SPF_HARD_FAIL_RULE));
});

test('the setting defaults to none and refuses unknown actions', () => {
  assert.equal(authSchema.parse({}).spfHardFailAction, 'none');
  const bad = authSchema.safeParse({ spfHardFailAction: 'drop' });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0]?.path, ['spfHardFailAction']);
});
