// Issue 19: the Received: field mxward stamps is built from checked parts (RFC 5321 §4.4,
// RFC 5322 §3.2.2 comments), so a hostile HELO, PTR or recipient can neither leave the field nor
// the comment it is put in, nor fake another field such as Authentication-Results.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type { ConnectionFacts } from '../../src/domain/types.ts';
import { commentText, forMailbox, receivedHeader, stampHeaders } from '../../src/smtp/stamp-headers.ts';
import type { StampInput } from '../../src/smtp/stamp-headers.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { RawSession } from '../helpers/smtp-session.ts';
import { waitForMaildir } from '../helpers/maildir.ts';

function facts(over: Partial<ConnectionFacts>): ConnectionFacts {
  return { sessionId: 's1', remoteIp: '203.0.113.9', remotePort: 40000, localPort: 25, listener: 'inbound', helo: 'mail.example.test', ptr: null, tls: null, authUser: null, authSendAs: [], ...over };
}

function input(f: ConnectionFacts, recipients = ['alice@ours.test']): StampInput {
  return {
    hostname: 'mx.ours.test', queueId: 'Q1abc', facts: f, recipients, attribution: 'anonymous', connector: null, directSend: null,
    wouldReject: false, verdict: 'accept', scl: null, authenticationResults: null, now: new Date('2026-11-30T02:00:00Z'),
  };
}

/**
 * The structure of a Received: value as RFC 5322 reads it: comments may nest and hold quoted
 * pairs. Returns the text outside comments, or throws when a comment is never closed or closed
 * twice, which would mean a client value escaped from its comment.
 */
function outsideComments(value: string): string {
  let depth = 0;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (depth > 0 && c === '\\') { i++; continue; }
    if (c === '(') { depth++; continue; }
    if (c === ')') { depth--; assert.ok(depth >= 0, `unbalanced ")" at ${i}: ${value}`); continue; }
    if (depth === 0) out += c;
  }
  assert.equal(depth, 0, `unclosed comment: ${value}`);
  return out;
}

/** Every line is a new field of ours or a folded continuation, and no line is over 998 octets. */
function assertFieldStructure(stamped: string, fields: string[]): void {
  assert.ok(stamped.endsWith('\r\n'));
  assert.doesNotMatch(stamped.replace(/\r\n/g, ''), /[\r\n]/, 'no bare CR or LF');
  const lines = stamped.slice(0, -2).split('\r\n');
  const names = lines.filter((l) => !/^[ \t]/.test(l)).map((l) => l.slice(0, l.indexOf(':')));
  assert.deepEqual(names, fields);
  for (const l of lines) assert.ok(Buffer.byteLength(l) <= 998, `line of ${Buffer.byteLength(l)} octets`);
}

const HOSTILE_HELOS = [
  'mail.evil.test;dmarc=pass;compauth=pass',
  'mail.evil.test\r\nAuthentication-Results: mx.ours.test; dmarc=pass',
  'mail.evil.test\nX-Mxward-AuthAs: Internal',
  'evil) (by mx.ours.test; Mon, 1 Jan 2026 00:00:00 +0000) ((',
  'a\\) ; dmarc=pass (',
  `${'x'.repeat(2048)};dmarc=pass`,
  'mail.\u00e9vil.test',
  '[203.0.113.9] ; spf=pass',
  '[IPv6:::1',
  '',
];

test('a hostile HELO stays inside one comment of one Received: field', async () => {
  for (const helo of HOSTILE_HELOS) {
    const stamped = stampHeaders(input(facts({ helo })));
    assertFieldStructure(stamped, ['Received', 'X-Mxward-AuthAs', 'X-Mxward-Verdict']);
    const received = stamped.slice('Received:'.length, stamped.indexOf('\r\nX-Mxward-AuthAs:')).replace(/\r\n\t/g, ' ');
    const top = outsideComments(received);
    // Outside comments only our own tokens remain: one `;`, before the date.
    assert.equal(top.split(';').length, 2, `${JSON.stringify(helo)} -> ${received}`);
    assert.doesNotMatch(top, /dmarc|spf=|compauth|evil/, `${JSON.stringify(helo)} -> ${received}`);
    assert.match(top, /^ from \[203\.0\.113\.9\] +by mx\.ours\.test +with ESMTP id Q1abc +for <alice@ours\.test>; Mon, 30 Nov 2026 02:00:00 \+0000$/);
    assert.ok(received.length < 600, `bounded: ${received.length}`);
    // A real parser sees exactly our fields and nothing the client wrote as a field.
    const parsed = await simpleParser(`${stamped}Subject: t\r\n\r\nbody\r\n`);
    assert.deepEqual([...parsed.headers.keys()].sort(), ['received', 'subject', 'x-mxward-authas', 'x-mxward-verdict']);
  }
});

test('a proper HELO, HELO literal and PTR are written as RFC 5321 §4.4 From-domain and TCP-info', () => {
  const plain = receivedHeader(input(facts({ helo: 'mail.example.test', ptr: 'out.example.test.' })));
  assert.match(plain, /^Received: from mail\.example\.test \(out\.example\.test \[203\.0\.113\.9\]\)\r\n\tby mx\.ours\.test \(mxward\) with ESMTP id Q1abc\r\n\tfor <alice@ours\.test>;\r\n\tMon, 30 Nov 2026 02:00:00 \+0000\r\n$/);
  assert.match(receivedHeader(input(facts({ helo: '[203.0.113.9]' }))), /^Received: from \[203\.0\.113\.9\] \(\[203\.0\.113\.9\]\)\r\n/);
  assert.match(receivedHeader(input(facts({ remoteIp: '::ffff:203.0.113.9', helo: '[IPv6:2001:db8::1]' }))), /^Received: from \[IPv6:2001:db8::1\] \(\[203\.0\.113\.9\]\)\r\n/);
  assert.match(receivedHeader(input(facts({ remoteIp: '2001:db8::25', helo: 'x_y.example' }))), /^Received: from \[IPv6:2001:db8::25\] \(\[IPv6:2001:db8::25\]\)\r\n\t\(HELO x_y\.example\)\r\n/);
  assert.match(receivedHeader(input(facts({ ptr: 'bad ptr;dmarc=pass' }))), /^Received: from mail\.example\.test \(\[203\.0\.113\.9\]\)\r\n/, 'a PTR that is not a Domain is left out');
  assert.match(receivedHeader(input(facts({ helo: '[010.0.0.1]' }))), /^Received: from \[203\.0\.113\.9\] \(\[203\.0\.113\.9\]\)\r\n\t\(HELO \[010\.0\.0\.1\]\)/, 'an octal literal is not an address literal');
  assert.match(receivedHeader(input(facts({ tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384 (x)', clientCertificate: null } }))), /\(using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \\\(x\\\)\)/);
});

test('comment text: specials escaped, controls and 8-bit replaced, bounded', () => {
  assert.equal(commentText('a(b)c\\d'), 'a\\(b\\)c\\\\d');
  assert.equal(commentText('x\r\ny\0\u00e9'), 'x??y??');
  assert.equal(commentText('z'.repeat(5000)).length, 203);
});

test('for clause: dot-atom or quoted local part, or nothing', () => {
  assert.equal(forMailbox('alice@ours.test'), '<alice@ours.test>');
  assert.equal(forMailbox('"a b"@ours.test'), '<"a b"@ours.test>');
  assert.equal(forMailbox('a"b@ours.test'), '<"a\\"b"@ours.test>');
  assert.equal(forMailbox('a>b; dmarc=pass@ours.test'), '<"a>b; dmarc=pass"@ours.test>');
  assert.equal(forMailbox('x@[192.0.2.1]'), '<x@[192.0.2.1]>');
  assert.equal(forMailbox('a\r\nb@ours.test'), null);
  assert.equal(forMailbox('ü@ours.test'), null);
  assert.equal(forMailbox('a@ours.test>\r\nX: y'), null);
  const stamped = stampHeaders(input(facts({}), ['a\r\nAuthentication-Results: x; dmarc=pass@ours.test']));
  assertFieldStructure(stamped, ['Received', 'X-Mxward-AuthAs', 'X-Mxward-Verdict']);
});

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'ours.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => { await gw?.close(); });

test('through the real listener: EHLO "mail.evil.test;dmarc=pass" with parentheses and 250 characters lands in a comment', async () => {
  // smtp-server takes one word of at most 300 characters without controls after EHLO; within that, the attacker chooses.
  const helo = `mail.evil.test;dmarc=pass;compauth=pass)(x)\\${'y'.repeat(200)}(`;
  const s = await RawSession.open(gw.inbound.port);
  try {
    await s.reply();
    assert.match(await s.command(`EHLO ${helo}`) ?? '', /^250/);
    assert.match(await s.command('MAIL FROM:<someone@elsewhere.example>') ?? '', /^250/);
    assert.match(await s.command('RCPT TO:<heloed@ours.test>') ?? '', /^250/);
    assert.match(await s.command('DATA') ?? '', /^354/);
    assert.match(await s.command('From: someone@elsewhere.example\r\nSubject: helo\r\n\r\nhi\r\n.') ?? '', /^250/);
    await s.command('QUIT');
  } finally {
    s.close();
  }
  const [msg] = await waitForMaildir(gw.dataDir, 'heloed@ours.test');
  const head = msg.slice(0, msg.indexOf('\r\n\r\n') + 2);
  const received = /^Received: from [^]*?(?=\r\n[^\t ])/m.exec(head)![0];
  const top = outsideComments(received.slice('Received:'.length).replace(/\r\n\t/g, ' '));
  assert.doesNotMatch(top, /dmarc|compauth|evil/, received);
  assert.equal(top.split(';').length, 2, received);
  const parsed = await simpleParser(msg);
  assert.equal(parsed.headers.has('authentication-results'), false);
});
