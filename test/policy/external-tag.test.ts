// External sender tagging (issue 18) as tables: who is tagged (attribution, partner opt-in,
// authenticated exemptions), and the Subject field rewritten once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideExternalTag, externalTagFacts, externalTagSettings, prefixSubjectField, tagHeaderSection } from '../../src/policy/external-tag.ts';
import type { ExternalTagFacts, ExternalTagSettings } from '../../src/policy/external-tag.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { SenderDecision } from '../../src/policy/decide.ts';
import type { AuthResults, MessageFacts } from '../../src/domain/types.ts';
import { policySchema } from '../../src/config/policy-schema.ts';

const settings = (over: Partial<ExternalTagSettings> = {}): ExternalTagSettings => ({ ...externalTagSettings({}), mode: 'subject', ...over });
const anonymous: ExternalTagFacts = { attribution: 'anonymous', connectorInternal: false, authorDomain: 'fabrikam.test', authorAuthenticated: false, claimsOwnDomain: false };

// [name, settings, facts, expected]: 'none' = not tagged; otherwise the subject prefix, the banner.
const plans: Array<[string, Partial<ExternalTagSettings>, Partial<ExternalTagFacts>, 'none' | { subjectPrefix: string | null; banner: string | null }]> = [
  ['off tags nothing', { mode: 'off' }, {}, 'none'],
  ['header mode: header only', { mode: 'header' }, {}, { subjectPrefix: null, banner: null }],
  ['subject mode: the prefix', {}, {}, { subjectPrefix: '[EXTERNAL]', banner: null }],
  ['a custom prefix', { prefix: '[EXT]' }, {}, { subjectPrefix: '[EXT]', banner: null }],
  ['internal (SMTP AUTH or onPremises) never', {}, { attribution: 'internal' }, 'none'],
  ['internal never, even with partners on', { partners: true }, { attribution: 'internal' }, 'none'],
  ['partner: not by default', {}, { attribution: 'partner' }, 'none'],
  ['partner: tagged when opted in', { partners: true }, { attribution: 'partner' }, { subjectPrefix: '[EXTERNAL]', banner: null }],
  ['partner treated as internal: never, even opted in', { partners: true }, { attribution: 'partner', connectorInternal: true }, 'none'],
  ['exempt domain that authenticated', { exemptSenderDomains: ['fabrikam.test'] }, { authorAuthenticated: true }, 'none'],
  ['exempt by *.domain covers a subdomain', { exemptSenderDomains: ['*.fabrikam.test'] }, { authorDomain: 'mail.fabrikam.test', authorAuthenticated: true }, 'none'],
  ['*.domain does not cover the domain itself', { exemptSenderDomains: ['*.fabrikam.test'] }, { authorAuthenticated: true }, { subjectPrefix: '[EXTERNAL]', banner: null }],
  ['exempt domain that did not authenticate is tagged', { exemptSenderDomains: ['fabrikam.test'] }, {}, { subjectPrefix: '[EXTERNAL]', banner: null }],
  ['another domain is tagged', { exemptSenderDomains: ['northwind.test'] }, { authorAuthenticated: true }, { subjectPrefix: '[EXTERNAL]', banner: null }],
  ['no single author: no exemption', { exemptSenderDomains: ['fabrikam.test'] }, { authorDomain: null, authorAuthenticated: true }, { subjectPrefix: '[EXTERNAL]', banner: null }],
  ['an exempt partner domain when partners are tagged', { partners: true, exemptSenderDomains: ['fabrikam.test'] }, { attribution: 'partner', authorAuthenticated: true }, 'none'],
  ['banner mode: the external banner, no prefix', { mode: 'banner' }, {}, { subjectPrefix: null, banner: 'external' }],
  ['banner mode: own domain claimed by Direct Send in report mode gets the stronger banner', { mode: 'banner' }, { authorDomain: 'contoso.test', claimsOwnDomain: true }, { subjectPrefix: null, banner: 'impersonation' }],
  ['banner mode for an opted-in partner', { mode: 'banner', partners: true }, { attribution: 'partner' }, { subjectPrefix: null, banner: 'external' }],
  ['our own domain claimed by Direct Send is never exempt', { exemptSenderDomains: ['contoso.test'] }, { authorDomain: 'contoso.test', authorAuthenticated: true, claimsOwnDomain: true }, { subjectPrefix: '[EXTERNAL]', banner: null }],
];
for (const [name, over, factsOver, expected] of plans) {
  test(`plan: ${name}`, () => {
    const decision = decideExternalTag(settings(over), { ...anonymous, ...factsOver });
    if (expected === 'none') assert.equal(decision.tag, false);
    else {
      assert.ok(decision.tag);
      assert.deepEqual({ subjectPrefix: decision.plan.subjectPrefix, banner: decision.plan.banner }, expected);
    }
  });
}

test('plan: an exemption is traced when it applies, and noted when it is refused', () => {
  const exempt = decideExternalTag(settings({ exemptSenderDomains: ['fabrikam.test'] }), { ...anonymous, authorAuthenticated: true });
  assert.ok(!exempt.tag && /exempt \(fabrikam\.test\) and passed compauth/.test(exempt.reason ?? ''));
  const refused = decideExternalTag(settings({ exemptSenderDomains: ['fabrikam.test'] }), anonymous);
  assert.ok(refused.tag && /did not authenticate/.test(refused.plan.notes.join()));
  const internal = decideExternalTag(settings(), { ...anonymous, attribution: 'internal' });
  assert.deepEqual(internal, { tag: false, reason: null });
});

const auth = (compauth: AuthResults['compauth']['result']): AuthResults => ({
  spf: { result: 'none', domain: null }, dkim: [], dmarc: { result: 'none', domain: null, policy: null }, arc: { result: 'none', sealer: null }, compauth: { result: compauth, reason: '' },
});
const messageFrom = (domain: string): MessageFacts => ({ headerFrom: [`a@${domain}`], author: { kind: 'single', address: `a@${domain}`, domain }, messageId: null, subject: null, sizeBytes: 1 });
const sender = (over: Partial<SenderDecision>): SenderDecision => ({ attribution: 'anonymous', connector: null, mailFrom: 'x@fabrikam.test', p1Domain: 'fabrikam.test', p1DirectSend: false, hits: [], ...over });

test('facts: connector treated as internal, compauth pass, own domain claimed in report mode', () => {
  const doc = policySchema.parse({
    acceptedDomains: [{ domain: 'contoso.test' }],
    connectors: [{ name: 'crm', type: 'partner', senderIPAddresses: ['192.0.2.0/24'], treatMessagesAsInternal: true }],
  });
  const policy = compilePolicy(doc, 1);
  assert.equal(externalTagFacts(policy, sender({ attribution: 'partner', connector: 'crm' }), messageFrom('fabrikam.test'), null, null, false).connectorInternal, true);
  const plain = externalTagFacts(policy, sender({}), messageFrom('fabrikam.test'), auth('pass'), null, false);
  assert.deepEqual(plain, { attribution: 'anonymous', connectorInternal: false, authorDomain: 'fabrikam.test', authorAuthenticated: true, claimsOwnDomain: false });
  assert.equal(externalTagFacts(policy, sender({}), messageFrom('fabrikam.test'), auth('softpass'), null, false).authorAuthenticated, false);
  // header-From Direct Send in report mode, and the classic one (P1 and From ours); a subdomain counts.
  assert.equal(externalTagFacts(policy, sender({}), messageFrom('contoso.test'), null, 'header-from', true).claimsOwnDomain, true);
  assert.equal(externalTagFacts(policy, sender({ p1DirectSend: true }), messageFrom('hr.contoso.test'), null, 'p1', true).claimsOwnDomain, true);
  // P1 Direct Send whose From is foreign: the message does not claim to be ours.
  assert.equal(externalTagFacts(policy, sender({ p1DirectSend: true }), messageFrom('fabrikam.test'), null, 'p1', true).claimsOwnDomain, false);
});

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
  assert.equal(doc.externalTagPartners, false);
  assert.deepEqual(doc.externalTagExemptSenderDomains, []);
  assert.equal(doc.externalTagBannerMaxBytes, 10 * 1024 * 1024);
  assert.equal(policySchema.parse({ externalTagging: 'banner' }).externalTagging, 'banner');
  assert.deepEqual(policySchema.safeParse({ externalTagBannerMaxBytes: 100 }).error?.issues[0]?.path, ['externalTagBannerMaxBytes']);
  assert.equal(policySchema.safeParse({ externalTagging: 'sometimes' }).success, false);
});

test('policy: exempt sender domains are normalised; * and non-domains are refused with their path', () => {
  const doc = policySchema.parse({ externalTagExemptSenderDomains: ['Fabrikam.TEST.', '*.Northwind.test'] });
  assert.deepEqual(doc.externalTagExemptSenderDomains, ['fabrikam.test', '*.northwind.test']);
  for (const bad of ['*', 'not a domain']) {
    const result = policySchema.safeParse({ externalTagExemptSenderDomains: ['ok.test', bad] });
    assert.equal(result.success, false, bad);
    assert.deepEqual(result.error?.issues[0]?.path, ['externalTagExemptSenderDomains', 1]);
  }
});
