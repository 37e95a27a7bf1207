// Issue 11, what held up under attack and must stay so, each against the real listener:
// relay protection over address forms that other MTAs once read as routes (source routes, %,
// !, quoted local parts, embedded @, literals), SMTP smuggling (only <CRLF>.<CRLF> ends DATA),
// and STARTTLS command injection (plaintext pipelined after STARTTLS is discarded, RFC 3207 §4.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { RawSession } from '../helpers/smtp-session.ts';
import { maildirMessages, waitForMaildir } from '../helpers/maildir.ts';
import { testMessage } from '../helpers/smtp-client.ts';

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    // The relay battery makes a dozen syntax errors in one session on purpose: no error delay.
    config: { limits: { errorDelayMs: 0 } },
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
});
after(async () => { await gw.close(); });

const greeted = () => RawSession.greeted(gw.inbound.port);

/**
 * Recipient forms whose real destination is (or could be read as) outside contoso.test. Each
 * must be refused: 550 5.7.64 by relay protection, or 501 5.1.7 when the syntax is not RFC 5321.
 */
const RELAY_FORMS = [
  '<victim@elsewhere.test>',
  '<@contoso.test:victim@elsewhere.test>', // RFC 5321 §4.1.2 source route, ignored target
  '<@contoso.test,@relay.test:victim@elsewhere.test>',
  '<victim%elsewhere.test@contoso.test>', // the percent hack
  '<"victim%elsewhere.test"@contoso.test>',
  '<victim@elsewhere.test%contoso.test>',
  '<elsewhere.test!victim@contoso.test>', // UUCP bang path
  '<victim@elsewhere.test@contoso.test>', // embedded @
  '<"victim@elsewhere.test"@contoso.test>', // quoted local part holding an address
  '<"victim@elsewhere.test">',
  '<victim@elsewhere.test\\@contoso.test>',
  '<victim@contoso.test:elsewhere.test>',
  '<victim@contoso.test.elsewhere.test>', // our domain as a prefix of a foreign one
  '<victim@elsewhere.test.>',
  '<victim@contoso.test.>',
  '<victim@[192.0.2.1]>', // address literals
  '<victim@[IPv6:::1]>',
  '<victim(comment)@elsewhere.test>',
  '<victim@localhost>',
  '<postmaster>',
  '<victim>',
  'victim@elsewhere.test', // no angle brackets
  '< victim@elsewhere.test>',
  '<victim@elsewhere.test> NOTIFY=NEVER',
];

test('relay protection: every address form aimed outside the accepted domains is refused', async () => {
  const s = await greeted();
  try {
    assert.match(await s.command('MAIL FROM:<probe@fabrikam.test>') ?? '', /^250 /);
    const accepted: string[] = [];
    for (const form of RELAY_FORMS) {
      const reply = await s.command(`RCPT TO:${form}`) ?? 'closed';
      if (!/^(550 5\.7\.64|501 5\.1\.7) /.test(reply)) accepted.push(`${form} => ${reply}`);
    }
    assert.deepEqual(accepted, [], 'forms not refused');
    // The control: our own domain, in another case, is still accepted in the same session.
    assert.match(await s.command('RCPT TO:<victim@CONTOSO.TEST>') ?? '', /^250 /);
    assert.match(await s.command('RSET') ?? '', /^250 /);
  } finally {
    s.close();
  }
  const record = await gw.waitForTrace({ sender: 'probe@fabrikam.test' });
  assert.equal(record.queueId, null, 'nothing was queued for delivery');
});

/** Line ends that some MTAs took for the end of DATA; RFC 5321 §4.1.1.4 allows only CRLF.CRLF. */
const SMUGGLING_ENDS: Array<[string, string]> = [
  ['LF . LF', '\n.\n'],
  ['CR . CR', '\r.\r'],
  ['CRLF . LF', '\r\n.\n'],
  ['LF . CRLF', '\n.\r\n'],
  ['CR . CRLF', '\r.\r\n'],
  ['CRLF . CR', '\r\n.\r'],
  ['CRLF . CR CRLF', '\r\n.\r\r\n'],
  ['CRLF . NUL CRLF', '\r\n.\0\r\n'],
];

test('SMTP smuggling: only <CRLF>.<CRLF> ends DATA; a second transaction hidden in the body never runs', async () => {
  for (const [name, end] of SMUGGLING_ENDS) {
    const tag = name.replace(/[^A-Za-z]/g, '');
    const s = await greeted();
    try {
      assert.match(await s.command('MAIL FROM:<outer@fabrikam.test>') ?? '', /^250 /);
      assert.match(await s.command(`RCPT TO:<smuggle-${tag}@contoso.test>`) ?? '', /^250 /);
      assert.match(await s.command('DATA') ?? '', /^354 /);
      const hidden = `MAIL FROM:<ceo@contoso.test>\r\nRCPT TO:<hidden-${tag}@contoso.test>\r\nDATA\r\nFrom: ceo@contoso.test\r\nSubject: smuggled\r\n\r\npay now\r\n.\r\n`;
      // The hidden message ends with a real <CRLF>.<CRLF>: for a server that reads DATA right,
      // that is the end of the one message, answered once. Had the odd ending closed DATA, the
      // hidden MAIL, RCPT, DATA and message would each be answered too.
      s.send(`${testMessage({ subject: `outer ${tag}` })}first part${end}${hidden}`);
      assert.match(await s.reply() ?? '', /^250 2\.6\.0 /, name);
      assert.equal(await s.command('NOOP'), '250 OK', `${name}: no replies left over from a hidden transaction`);
    } finally {
      s.close();
    }
    const [delivered] = await waitForMaildir(gw.dataDir, `smuggle-${tag}@contoso.test`);
    assert.ok(delivered?.includes('pay now'), `${name}: the hidden part stayed inside the one message`);
    assert.deepEqual(await maildirMessages(gw.dataDir, `hidden-${tag}@contoso.test`), [], `${name}: nothing delivered to the hidden recipient`);
  }
});

test('STARTTLS injection: commands pipelined after STARTTLS in the same packet are discarded', async () => {
  const s = await greeted();
  try {
    // One write, one packet: STARTTLS and a transaction an attacker in the path appended.
    s.send('STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<injected@contoso.test>\r\n');
    assert.match(await s.reply() ?? '', /^220 /);
    assert.equal(s.buffered, '', 'no reply to the injected commands before the handshake');
    await s.startTls({ servername: 'mx.test.example' });
    // Had the injected MAIL survived, it would be answered first (503, EHLO needed again).
    assert.equal(await s.command('NOOP'), '250 OK');
    assert.match(await s.command('EHLO client.invalid') ?? '', /^250-/);
    // A fresh session state after TLS (RFC 3207 §4.2): RCPT needs a MAIL sent over TLS.
    assert.match(await s.command('RCPT TO:<injected@contoso.test>') ?? '', /^503 /);
    assert.match(await s.command('QUIT') ?? '', /^221 /);
  } finally {
    s.close();
  }
  const injected = await gw.store.queryTrace({ sender: 'injected@evil.test', limit: 1 });
  assert.deepEqual(injected, [], 'the injected transaction never started');
});
