// Issue 19, the pieces as units: the per-message DNS view (decisive questions first, memo, key
// limits), DKIM signature selection, mxward's own DMARC evaluation, RFC 8601 value syntax and the
// own-domain rule. Pure or with an in-memory lookup; the real-DNS paths are in test/e2e/auth-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createMessageLookup, dmarcWalkNames, refuseKey } from '../../src/auth/message-lookup.ts';
import { selectSignatures } from '../../src/auth/dkim-select.ts';
import { discoverPolicy, evaluateDmarc, strictestPolicy } from '../../src/auth/dmarc-fallback.ts';
import { propertyValue, resinfo, comment } from '../../src/auth/auth-results-syntax.ts';
import { recordedPass } from '../../src/auth/authenticate.ts';
import { isOwnDomain } from '../../src/policy/own-domains.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { policySchema } from '../../src/config/policy-schema.ts';
import type { DnsLookup } from '../../src/auth/resolver.ts';

/** An in-memory zone with a query budget, like resolver.forMessage: past it every query fails. */
function zone(records: Record<string, string[]>, maxQueries = 1000): DnsLookup & { asked: string[] } {
  const asked: string[] = [];
  const lookup = async (name: string, type: string) => {
    asked.push(`${type} ${name}`);
    if (asked.length > maxQueries) throw Object.assign(new Error('budget'), { code: 'ETIMEOUT' });
    const r = records[`${type} ${name}`];
    if (r === undefined) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    if (r[0] === 'SERVFAIL') throw Object.assign(new Error('servfail'), { code: 'ESERVFAIL' });
    return r.map((t) => [t]);
  };
  return Object.assign(lookup, { asked });
}

test('the DMARC walk names match mailauth\'s Tree Walk', () => {
  assert.deepEqual(dmarcWalkNames('a.b.bank.test'), ['_dmarc.a.b.bank.test', '_dmarc.b.bank.test', '_dmarc.bank.test', '_dmarc.test']);
  assert.equal(dmarcWalkNames('1.2.3.4.5.6.7.8.9.test').length, 8);
});

test('prefetched answers survive an exhausted budget and are served without another query', async () => {
  const base = zone({ 'TXT _dmarc.bank.test': ['v=DMARC1; p=reject'] }, 3);
  const view = createMessageLookup(base, { maxKeyBits: 4096 });
  await view.prefetch([['_dmarc.bank.test', 'TXT']]);
  for (let i = 0; i < 5; i += 1) await view.lookup(`inv${i}._domainkey.evil.test`, 'TXT').catch(() => null);
  assert.deepEqual(await view.lookup('_dmarc.bank.test', 'TXT'), [['v=DMARC1; p=reject']]);
  assert.equal(base.asked.filter((q) => q.includes('_dmarc')).length, 1);
  // A failure is remembered too: the same question gets the same answer within the message.
  await assert.rejects(view.lookup('inv4._domainkey.evil.test', 'TXT'));
  assert.equal(base.asked.length, 6);
});

test('DKIM keys above the size limit or with an odd exponent are refused before mailauth sees them', async () => {
  const small = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const odd = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 0x100001 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  assert.equal(refuseKey(`v=DKIM1; k=rsa; p=${small}`, { maxKeyBits: 4096 }), null);
  assert.match(refuseKey(`v=DKIM1; p=${small}`, { maxKeyBits: 1024 }) ?? '', /2048 bits, above the limit of 1024/);
  assert.match(refuseKey(`v=DKIM1; p=${odd}`, { maxKeyBits: 4096 }) ?? '', /exponent 1048577/);
  assert.equal(refuseKey('v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=', { maxKeyBits: 4096 }), null);
  const view = createMessageLookup(zone({ 'TXT s._domainkey.big.test': [`v=DKIM1; p=${small}`] }), { maxKeyBits: 1024 });
  assert.deepEqual(await view.lookup('s._domainkey.big.test', 'TXT'), [['v=DKIM1; p=']]);
  assert.match(view.refusedKeys.get('s._domainkey.big.test') ?? '', /above the limit/);
});

function header(sigs: Array<[string, string]>): Buffer {
  return Buffer.from(`${sigs.map(([d, s]) => `DKIM-Signature: v=1; a=rsa-sha256; d=${d};\r\n\ts=${s}; h=from; bh=x; b=y\r\n`).join('')}From: a@bank.test\r\nSubject: x\r\n\r\n`, 'latin1');
}

test('signature selection keeps at most N, aligned with the author first, and drops the rest from the copy only', () => {
  const many = header([...Array.from({ length: 12 }, (_, i): [string, string] => ['evil.test', `e${i}`]), ['mail.bank.test', 'b1']]);
  const { block, selection } = selectSignatures(many, 'bank.test', 3);
  assert.equal(selection.dropped, 10);
  assert.deepEqual(selection.kept.map((k) => `${k.domain}/${k.selector}/${k.aligned}`), ['evil.test/e0/false', 'evil.test/e1/false', 'mail.bank.test/b1/true']);
  const text = block.toString('latin1');
  assert.equal((text.match(/^DKIM-Signature:/gm) ?? []).length, 3);
  assert.match(text, /From: a@bank\.test\r\nSubject: x\r\n\r\n$/);
  const few = header([['evil.test', 'e0']]);
  assert.equal(selectSignatures(few, 'bank.test', 3).block, few, 'under the cap the bytes are untouched');
});

test('mxward\'s DMARC: record or Organizational Domain record, alignment modes, temperror, strictest of several', async () => {
  const z = zone({ 'TXT _dmarc.bank.test': ['v=DMARC1; p=reject; sp=quarantine; adkim=s'], 'TXT _dmarc.flaky.test': ['SERVFAIL'], 'TXT _dmarc.two.test': ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] });
  const sub = await discoverPolicy('mail.bank.test', z);
  assert.deepEqual(sub, { kind: 'record', recordDomain: 'bank.test', policy: 'quarantine', adkimStrict: true, aspfStrict: false, pct: 100 });
  const apex = await discoverPolicy('bank.test', z);
  assert.equal(evaluateDmarc('bank.test', apex, { spf: { result: 'pass', domain: 'bounce.bank.test' }, dkim: [] }).result, 'pass');
  assert.equal(evaluateDmarc('bank.test', apex, { spf: { result: 'fail', domain: null }, dkim: [{ result: 'pass', domain: 'mail.bank.test' }] }).result, 'fail', 'adkim=s');
  assert.equal(evaluateDmarc('bank.test', apex, { spf: { result: 'fail', domain: null }, dkim: [{ result: 'pass', domain: 'bank.test', partial: true }] }).result, 'fail', 'l= partial');
  assert.deepEqual(evaluateDmarc('flaky.test', await discoverPolicy('flaky.test', z), { spf: { result: 'pass', domain: 'flaky.test' }, dkim: [] }), { result: 'temperror', policy: null });
  assert.deepEqual(await discoverPolicy('two.test', z), { kind: 'none' }, 'two records are no record (held up)');
  assert.equal(strictestPolicy([{ kind: 'none' }, sub, apex]), 'reject');
});

test('RFC 8601 values: client text is quoted, comments cannot close early', () => {
  assert.equal(propertyValue('mail.evil.test'), 'mail.evil.test');
  assert.equal(propertyValue('billing@fabrikam.test'), 'billing@fabrikam.test');
  assert.equal(propertyValue('mail.evil.test;dmarc=pass;compauth=pass'), '"mail.evil.test;dmarc=pass;compauth=pass"');
  assert.equal(propertyValue('"a\\b"@x.test'), '"\\"a\\\\b\\"@x.test"');
  assert.equal(propertyValue('a\r\nX-Injected: 1'), '"aX-Injected: 1"');
  assert.equal(comment('x) ; dmarc=pass (y'), ' (x ; dmarc=pass y)');
  assert.equal(resinfo('spf', 'pass', null, [['smtp.helo', '[192.0.2.1]'], ['smtp.mailfrom', null]]), 'spf=pass smtp.helo="[192.0.2.1]"');
});

test('ARC vouching needs a recorded DMARC pass for the same author domain', () => {
  const aar = (dmarc?: { result: string; header?: { from?: string } }) => ({ spf: { result: 'pass' }, dkim: [{ result: 'pass' }], ...(dmarc ? { dmarc } : {}) });
  assert.equal(recordedPass(aar(), 'bank.test'), false);
  assert.equal(recordedPass(aar({ result: 'pass', header: { from: 'evil.test' } }), 'bank.test'), false);
  assert.equal(recordedPass(aar({ result: 'fail', header: { from: 'bank.test' } }), 'bank.test'), false);
  assert.equal(recordedPass(aar({ result: 'pass', header: { from: 'Bank.test' } }), 'bank.test'), true);
  assert.equal(recordedPass(aar({ result: 'pass', header: { from: 'bank.test' } }), null), false);
});

test('own domains: accepted domains and every subdomain of one, opted in or not', () => {
  const policy = compilePolicy(policySchema.parse({ acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false }] }), 1);
  assert.equal(isOwnDomain(policy, 'contoso.test'), true);
  assert.equal(isOwnDomain(policy, 'hr.payroll.contoso.test'), true);
  assert.equal(isOwnDomain(policy, 'CONTOSO.test.'), true);
  assert.equal(isOwnDomain(policy, 'notcontoso.test'), false);
  assert.equal(isOwnDomain(policy, 'test'), false);
  assert.equal(isOwnDomain(policy, null), false);
});
