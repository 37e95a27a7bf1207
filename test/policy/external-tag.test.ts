// External sender tagging (issue 18) as tables: who is tagged, and the Subject field rewritten once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planExternalTag, prefixSubjectField, tagHeaderSection } from '../../src/policy/external-tag.ts';
import type { ExternalTagging } from '../../src/policy/external-tag.ts';
import type { Attribution } from '../../src/domain/types.ts';
import { policySchema } from '../../src/config/policy-schema.ts';

const plans: Array<[ExternalTagging, Attribution, string | null | 'none']> = [
  ['off', 'anonymous', 'none'],
  ['header', 'anonymous', null],
  ['subject', 'anonymous', '[EXTERNAL]'],
  ['subject', 'partner', 'none'],
  ['subject', 'internal', 'none'],
  ['header', 'internal', 'none'],
];
for (const [mode, attribution, expected] of plans) {
  test(`plan: ${mode} for ${attribution} -> ${expected === 'none' ? 'untagged' : expected ?? 'header only'}`, () => {
    const plan = planExternalTag(mode, attribution, '[EXTERNAL]');
    if (expected === 'none') assert.equal(plan, null);
    else assert.deepEqual(plan, { header: true, subjectPrefix: expected });
  });
}

const subjects: Array<[string, string, string | null]> = [
  ['plain', 'Subject: Invoice 42\r\n', 'Subject: [EXTERNAL] Invoice 42\r\n'],
  ['no space after the colon', 'Subject:Invoice\r\n', 'Subject: [EXTERNAL] Invoice\r\n'],
  ['folded', 'Subject: a long\r\n subject line\r\n', 'Subject: [EXTERNAL] a long\r\n subject line\r\n'],
  ['encoded-word keeps its separating space', 'Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n', 'Subject: [EXTERNAL] =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n'],
  ['empty', 'Subject:\r\n', 'Subject: [EXTERNAL]\r\n'],
  ['already tagged', 'Subject: [EXTERNAL] Invoice\r\n', null],
  ['a reply thread keeps one tag', 'Subject: Re: [EXTERNAL] Invoice\r\n', null],
  ['case-insensitive', 'Subject: RE: [external] Invoice\r\n', null],
  ['tag split by folding still found', 'Subject: Re: [EXTERNAL]\r\n Invoice\r\n', null],
  ['a reply whose whole Subject is an encoded-word (Q)', 'Subject: =?utf-8?Q?RE:_[EXTERNAL]_Gr=C3=BC=C3=9Fe?=\r\n', null],
  ['a reply whose whole Subject is an encoded-word (B), split in two words', `Subject: =?UTF-8?B?${Buffer.from('AW: [EXT').toString('base64')}?=\r\n =?UTF-8?B?${Buffer.from('ERNAL] Grüße').toString('base64')}?=\r\n`, null],
  ['an encoded Subject without the tag is prefixed', 'Subject: =?iso-8859-1?Q?Gr=FC=DFe?=\r\n', 'Subject: [EXTERNAL] =?iso-8859-1?Q?Gr=FC=DFe?=\r\n'],
  ['an unknown charset stays as written (and is prefixed)', 'Subject: =?x-unknown?Q?abc?=\r\n', 'Subject: [EXTERNAL] =?x-unknown?Q?abc?=\r\n'],
];
for (const [name, raw, expected] of subjects) {
  test(`subject: ${name}`, () => assert.equal(prefixSubjectField(raw, '[EXTERNAL]'), expected));
}

test('header section: only the Subject changes; without one, a Subject is added', () => {
  const fields = [{ name: 'from', raw: 'From: <a@x.test>\r\n' }, { name: 'subject', raw: 'Subject: Hi\r\n' }, { name: 'to', raw: 'To: <b@y.test>\r\n' }];
  assert.equal(tagHeaderSection(fields, '[EXT]'), 'From: <a@x.test>\r\nSubject: [EXT] Hi\r\nTo: <b@y.test>\r\n');
  assert.equal(tagHeaderSection([fields[0]], '[EXT]'), 'From: <a@x.test>\r\nSubject: [EXT]\r\n');
  assert.equal(tagHeaderSection([{ name: 'subject', raw: 'Subject: [EXT] Hi\r\n' }], '[EXT]'), null);
});

test('policy: off by default, the prefix checked', () => {
  const doc = policySchema.parse({});
  assert.equal(doc.externalTagging, 'off');
  assert.equal(doc.externalTagPrefix, '[EXTERNAL]');
  const bad = policySchema.safeParse({ externalTagging: 'subject', externalTagPrefix: 'bad\r\nX-Injected: 1' });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0]?.path, ['externalTagPrefix']);
  assert.equal(policySchema.safeParse({ externalTagging: 'banner' }).success, false);
});
