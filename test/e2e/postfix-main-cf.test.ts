// The private Postfix's main.cf holds each parameter once (see withoutOverrides in the helper).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withoutOverrides } from '../helpers/postfix.ts';

test('a later main.cf line replaces the earlier one of the same name in its place; other lines keep their order', () => {
  const lines = ['myhostname = a', 'mynetworks = 127.0.0.0/8', 'smtpd_recipient_restrictions = x', 'biff = no',
    'mynetworks = 127.0.0.0/8, [::1]/128', 'smtpd_recipient_restrictions=y', 'relayhost ='];
  assert.deepEqual(withoutOverrides(lines), ['myhostname = a', 'mynetworks = 127.0.0.0/8, [::1]/128', 'smtpd_recipient_restrictions=y',
    'biff = no', 'relayhost =']);
  const names = withoutOverrides(lines).map((l) => l.split('=')[0].trim());
  assert.equal(new Set(names).size, names.length);
});
