// The DSN's shape (RFC 3464 / RFC 6522) and the status derived from downstream replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDsn, statusOf } from '../../src/spool/dsn.ts';

test('statusOf: enhanced code from the reply, else the reply class, expiry is 4.4.7', () => {
  assert.equal(statusOf('550 5.1.1 <x@y>: Recipient address rejected'), '5.1.1');
  assert.equal(statusOf('554 Transaction failed'), '5.0.0');
  assert.equal(statusOf('451 4.3.0 busy (gave up: queue lifetime exceeded)'), '4.3.0');
  assert.equal(statusOf('ESOCKET connect ECONNREFUSED (gave up: queue lifetime exceeded)'), '4.4.7');
  assert.equal(statusOf(null), '5.0.0');
});

test('buildDsn: multipart/report with a human part, delivery-status per failed recipient and the headers only', () => {
  const text = buildDsn({
    reportingMta: 'gw.example', queueId: 'Q1', mailFrom: 'sender@client.test', arrivalDate: new Date('2026-01-02T03:04:05Z'),
    failed: [
      { address: 'nobody@example.test', state: 'failed', attempts: 1, lastReply: '550 5.1.1 <nobody@example.test>: unknown\r\nsecond line' },
      { address: 'ghost@example.test', state: 'failed', attempts: 3, lastReply: 'ESOCKET timeout (gave up: queue lifetime exceeded)' },
    ],
    originalHeader: 'Subject: hello\r\nFrom: a@client.test\r\n', now: new Date('2026-01-02T04:00:00Z'),
  });
  const boundary = /boundary="([^"]+)"/.exec(text)![1];
  const parts = text.split(`--${boundary}`);
  assert.equal(parts.length, 5, 'preamble, 3 parts, epilogue');
  assert.match(parts[0], /^Content-Type: multipart\/report; report-type=delivery-status;/m);
  assert.match(parts[0], /^To: <sender@client\.test>$/m);
  assert.match(parts[0], /^Auto-Submitted: auto-replied$/m);
  assert.match(parts[2], /^Content-Type: message\/delivery-status/m);
  assert.match(parts[2], /^Reporting-MTA: dns; gw\.example$/m);
  assert.match(parts[2], /^Arrival-Date: Fri, 02 Jan 2026 03:04:05 \+0000$/m);
  assert.match(parts[2], /Final-Recipient: rfc822; nobody@example\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <nobody@example\.test>: unknown second line/);
  assert.match(parts[2], /Final-Recipient: rfc822; ghost@example\.test\r\nAction: failed\r\nStatus: 4\.4\.7\r\nLast-Attempt-Date/);
  assert.match(parts[3], /^Content-Type: text\/rfc822-headers\r\n\r\nSubject: hello\r\nFrom: a@client\.test\r\n$/m);
  assert.ok(!/[^\r]\n/.test(text), 'CRLF line ends only');
  assert.ok(/^[\x00-\x7f]*$/.test(text), 'US-ASCII');
});
