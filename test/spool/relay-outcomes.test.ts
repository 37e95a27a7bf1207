// How downstream replies become per-recipient outcomes (RFC 5321 §4.2.1, RFC 2033 §4.2), as a
// table over the error and result shapes nodemailer's client produces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outcomesFromError, outcomesFromInfo } from '../../src/spool/targets/smtp-relay.ts';

const rcpts = ['a@x.test', 'b@x.test'];
const refused = (recipient: string, response: string) => Object.assign(new Error('Recipient command failed'), { recipient, response, responseCode: Number(response.slice(0, 3)) });

test('accepted transaction: 250 for the accepted, each refused recipient by its own class', () => {
  const out = outcomesFromInfo(rcpts, { accepted: ['a@x.test'], rejected: ['b@x.test'], rejectedErrors: [refused('b@x.test', '450 4.2.0 busy')], response: '250 2.0.0 Ok: queued as X' }, false);
  assert.deepEqual(out, [{ status: 'delivered', reply: '250 2.0.0 Ok: queued as X' }, { status: 'deferred', reply: '450 4.2.0 busy' }]);
});

test('LMTP: a refused last recipient does not lend its reply to the accepted ones', () => {
  const out = outcomesFromInfo(rcpts, { accepted: ['a@x.test'], rejected: ['b@x.test'], rejectedErrors: [refused('b@x.test', '552 5.2.2 over quota')], response: '552 5.2.2 over quota' }, true);
  assert.deepEqual(out, [{ status: 'delivered', reply: '250 accepted (LMTP)' }, { status: 'failed', reply: '552 5.2.2 over quota' }]);
});

test('every recipient refused at RCPT: per recipient', () => {
  const err = Object.assign(new Error("Can't send mail - all recipients were rejected"), {
    responseCode: 450, response: '450 4.2.0 busy', rejectedErrors: [refused('a@x.test', '550 5.1.1 unknown'), refused('b@x.test', '450 4.2.0 busy')],
  });
  assert.deepEqual(outcomesFromError(rcpts, err).map((o) => o.status), ['failed', 'deferred']);
});

test('whole-transaction replies and transport errors', () => {
  const data5 = Object.assign(new Error('Message failed'), { responseCode: 554, response: '554 5.7.1 rejected by content filter' });
  assert.deepEqual(outcomesFromError(rcpts, data5).map((o) => o.status), ['failed', 'failed']);
  const mail4 = Object.assign(new Error('Mail command failed'), { responseCode: 421, response: '421 4.3.2 shutting down' });
  assert.deepEqual(outcomesFromError(rcpts, mail4).map((o) => o.status), ['deferred', 'deferred']);
  const reset = Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' });
  assert.deepEqual(outcomesFromError(rcpts, reset), [{ status: 'deferred', reply: 'ECONNECTION Connection closed unexpectedly' }, { status: 'deferred', reply: 'ECONNECTION Connection closed unexpectedly' }]);
});
