// Enhanced filtering: trusted hops skipped in the Received chain, each hop's field read in its
// own MTA's format, never from the HELO or another client-chosen part (pure; issue 19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHops, findMessageSource, parseReceivedFrom } from '../../src/auth/received-chain.ts';
import type { HopMta } from '../../src/auth/received-chain.ts';
import { splitHeaderFields } from '../../src/smtp/header-section.ts';

const fields = splitHeaderFields([
  'Received: from relay2.filter.test (relay2.filter.test [10.0.0.2]) by edge.filter.test; Mon, 1 Jan 2026 00:00:02 +0000',
  'Received: from mail.fabrikam.test (mail.fabrikam.test [192.0.2.80])\r\n\tby relay2.filter.test; Mon, 1 Jan 2026 00:00:01 +0000',
  'Received: from evil.test ([203.0.113.9]) by mail.fabrikam.test; Mon, 1 Jan 2026 00:00:00 +0000',
  'From: a@fabrikam.test', '',
].join('\r\n'));

// [MTA, a field it writes, the TCP peer it recorded, the HELO]; every attacker HELO is [198.51.100.10].
const formats: Array<[HopMta, string, string, string | null]> = [
  ['postfix', 'from mail.evil.test (unknown [203.0.113.5]) by mx.filter.test (Postfix) with ESMTP id 4Xy', '203.0.113.5', 'mail.evil.test'],
  ['postfix', 'from [198.51.100.10] (unknown [203.0.113.5]) by mx.filter.test (Postfix) with ESMTP id 4Xy', '203.0.113.5', '[198.51.100.10]'],
  ['postfix', 'from x.test (host.evil.test [IPv6:2001:db8::5]) by mx.filter.test (Postfix)', '2001:db8::5', 'x.test'],
  ['sendmail', 'from [198.51.100.10] (host.evil.test [203.0.113.5] (may be forged)) by mx.filter.test (8.17.1/8.17.1) with ESMTP id 1A', '203.0.113.5', '[198.51.100.10]'],
  ['sendmail', 'from [198.51.100.10] ([203.0.113.5]) by mx.filter.test (8.17.1/8.17.1) with ESMTP id 1A', '203.0.113.5', '[198.51.100.10]'],
  ['exim', 'from [203.0.113.5] (helo=[198.51.100.10]) by mx.filter.test with esmtp (Exim 4.97) id 1r', '203.0.113.5', '[198.51.100.10]'],
  ['exim', 'from host.evil.test ([203.0.113.5] helo=[198.51.100.10]) by mx.filter.test with esmtp (Exim 4.97)', '203.0.113.5', '[198.51.100.10]'],
  ['exim', 'from host.evil.test ([203.0.113.5]) by mx.filter.test with esmtp (Exim 4.97)', '203.0.113.5', null],
  ['qmail', 'from unknown (HELO ?198.51.100.10?) (203.0.113.5) by mx.filter.test with SMTP; 1 Jan 2026 00:00:00 -0000', '203.0.113.5', '?198.51.100.10?'],
  ['qmail', 'from host.evil.test (HELO mail.evil.test) (ident@203.0.113.5) by mx.filter.test with SMTP', '203.0.113.5', 'mail.evil.test'],
  ['exchange', 'from [198.51.100.10] (203.0.113.5) by BN8NAM12FT012.mail.protection.outlook.com (10.13.182.122) with Microsoft SMTP Server', '203.0.113.5', '[198.51.100.10]'],
  ['haraka', 'from [198.51.100.10] (Unknown [203.0.113.5]) by mx.filter.test (Haraka/3.0.3) with ESMTPS id 1', '203.0.113.5', '[198.51.100.10]'],
];

for (const [mta, value, ip, helo] of formats) {
  test(`${mta}: the source is the TCP peer the hop recorded, never the HELO (${value.slice(5, 40)}…)`, () => {
    assert.deepEqual(parseReceivedFrom(value, mta), { ip, helo });
  });
}

test('fields not in the hop\'s format give no address, whatever the HELO claims', () => {
  assert.equal(parseReceivedFrom('from [198.51.100.10] by c', 'postfix'), null);
  assert.equal(parseReceivedFrom('from [IPv6:2001:db8::1] by c', 'postfix'), null);
  assert.equal(parseReceivedFrom('from 192.0.2.7 by c', 'postfix'), null);
  assert.equal(parseReceivedFrom('by c with local', 'postfix'), null);
  // Exim-without-rDNS as Postfix: the bracket after `from` is Exim's own, the comment is the HELO.
  assert.equal(parseReceivedFrom('from [203.0.113.5] (helo=[198.51.100.10]) by x', 'postfix'), null);
  // qmail's address is bare; a bracketed "address" in its HELO comment is not it.
  assert.equal(parseReceivedFrom('from unknown (HELO [198.51.100.10]) by x', 'qmail'), null);
  // Exchange: a claimed literal in the HELO position, no address comment.
  assert.equal(parseReceivedFrom('from [198.51.100.10] by x with Microsoft SMTP Server', 'exchange'), null);
  // Octal-looking octets are not an address (strict parsing).
  assert.equal(parseReceivedFrom('from a (unknown [010.1.2.3]) by x', 'postfix'), null);
});

test('skips every trusted hop and stops at the first untrusted client', () => {
  const hops = compileHops(['10.0.0.0/8']);
  assert.deepEqual(findMessageSource('10.0.0.1', 'edge', fields, hops), { ip: '192.0.2.80', helo: 'mail.fabrikam.test', skipped: ['10.0.0.1', '10.0.0.2'], problem: null });
});

test('each field is read in the format of the hop that added it', () => {
  const mixed = splitHeaderFields([
    'Received: from relay.filter.test (10.0.0.2) by edge.filter.test with Microsoft SMTP Server; Mon, 1 Jan 2026 00:00:02 +0000',
    'Received: from [198.51.100.10] (unknown [203.0.113.5]) by relay.filter.test (Postfix); Mon, 1 Jan 2026 00:00:01 +0000',
    '',
  ].join('\r\n'));
  const hops = compileHops([{ range: '10.0.0.1/32', mta: 'exchange' }, { range: '10.0.0.2/32', mta: 'postfix' }]);
  assert.deepEqual(findMessageSource('10.0.0.1', 'edge', mixed, hops), { ip: '203.0.113.5', helo: '[198.51.100.10]', skipped: ['10.0.0.1', '10.0.0.2'], problem: null });
});

test('a connecting client that is not a trusted hop is the source; no hops configured likewise', () => {
  assert.deepEqual(findMessageSource('198.51.100.1', 'x', fields, compileHops(['10.0.0.0/8'])), { ip: '198.51.100.1', helo: 'x', skipped: [], problem: null });
  assert.deepEqual(findMessageSource('10.0.0.1', 'x', fields, []), { ip: '10.0.0.1', helo: 'x', skipped: [], problem: null });
});

test('unreadable, missing or all-trusted Received: the source is unknown and the reason is given, never the hop itself', () => {
  const hops = compileHops(['10.0.0.0/8']);
  const bare = splitHeaderFields('Received: by local; now\r\nFrom: a@b.test\r\n');
  const r = findMessageSource('10.0.0.1', 'x', bare, hops);
  assert.equal(r.ip, null);
  assert.match(r.problem ?? '', /not in the postfix format/);
  assert.match(findMessageSource('10.0.0.1', 'x', splitHeaderFields('From: a@b.test\r\n'), hops).problem ?? '', /no Received field/);
  const internal = splitHeaderFields('Received: from a (a [10.0.0.9]) by b; now\r\n');
  assert.equal(findMessageSource('10.0.0.1', 'x', internal, hops).ip, null);
});
