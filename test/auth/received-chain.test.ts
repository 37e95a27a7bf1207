// Enhanced filtering: trusted hops skipped in the Received chain (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHops, findMessageSource, parseReceivedFrom } from '../../src/auth/received-chain.ts';
import { splitHeaderFields } from '../../src/smtp/header-section.ts';

const fields = splitHeaderFields([
  'Received: from relay2.filter.test (relay2.filter.test [10.0.0.2]) by edge.filter.test; Mon, 1 Jan 2026 00:00:02 +0000',
  'Received: from mail.fabrikam.test (mail.fabrikam.test [192.0.2.80])\r\n\tby relay2.filter.test; Mon, 1 Jan 2026 00:00:01 +0000',
  'Received: from evil.test ([203.0.113.9]) by mail.fabrikam.test; Mon, 1 Jan 2026 00:00:00 +0000',
  'From: a@fabrikam.test', '',
].join('\r\n'));

test('parseReceivedFrom takes the TCP-info address, never a claimed name', () => {
  assert.deepEqual(parseReceivedFrom('from a.test (b.test [192.0.2.1]) by c'), { helo: 'a.test', ip: '192.0.2.1' });
  assert.deepEqual(parseReceivedFrom('from [IPv6:2001:db8::1] by c'), { helo: null, ip: '2001:db8::1' });
  assert.deepEqual(parseReceivedFrom('from 192.0.2.7 by c'), { helo: '192.0.2.7', ip: null });
  assert.equal(parseReceivedFrom('by c with local'), null);
});

test('skips every trusted hop and stops at the first untrusted client', () => {
  const hops = compileHops(['10.0.0.0/8']);
  assert.deepEqual(findMessageSource('10.0.0.1', 'edge', fields, hops), { ip: '192.0.2.80', helo: 'mail.fabrikam.test', skipped: ['10.0.0.1', '10.0.0.2'] });
});

test('a connecting client that is not a trusted hop is the source; no hops configured likewise', () => {
  assert.deepEqual(findMessageSource('198.51.100.1', 'x', fields, compileHops(['10.0.0.0/8'])), { ip: '198.51.100.1', helo: 'x', skipped: [] });
  assert.deepEqual(findMessageSource('10.0.0.1', 'x', fields, []), { ip: '10.0.0.1', helo: 'x', skipped: [] });
});

test('all hops trusted or unreadable: falls back to the connecting client instead of guessing', () => {
  const bare = splitHeaderFields('Received: by local; now\r\nFrom: a@b.test\r\n');
  assert.deepEqual(findMessageSource('10.0.0.1', 'x', bare, compileHops(['10.0.0.0/8'])), { ip: '10.0.0.1', helo: 'x', skipped: [] });
});
