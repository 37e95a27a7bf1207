// The listener's own connection handling (src/smtp/server.ts): after QUIT the 221 arrives and the
// server closes the connection itself, so the session ends (trace written) even
// when the client keeps its side open; session ids keep smtp-server's format and never repeat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { startTestGateway } from '../helpers/gateway.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../helpers/loopback.ts';
import { newSessionId, sessionIdOf } from '../../src/smtp/session-id.ts';

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }], rejectDirectSend: 'enforce' }),
  });
});
after(async () => { await gw.close(); });

/** A client that never closes its own side: only the server can end the connection. */
function halfOpenClient(port: number): Promise<{ socket: Socket; text: () => string; ended: Promise<void> }> {
  return new Promise((resolveOpen, rejectOpen) => {
    let text = '';
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolveOpen({ socket, text: () => text, ended }));
    const ended = new Promise<void>((r) => socket.once('end', () => r()));
    socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    socket.once('error', rejectOpen);
  });
}

test('QUIT: the 221 arrives, then the server ends the session without waiting for the client to close', async (t) => {
  const c = await halfOpenClient(gw.inbound.port);
  t.after(() => c.socket.destroy());
  await waitFor('the banner', async () => /^220 /m.test(c.text()), 2000);
  for (const line of ['EHLO client.invalid', 'MAIL FROM:<ceo@contoso.test>', 'RCPT TO:<quit-probe@contoso.test>', 'QUIT']) {
    c.socket.write(`${line}\r\n`);
    const replies = c.text().split('\r\n').length;
    await waitFor(`the reply to ${line}`, async () => c.text().split('\r\n').length > replies && c.text().endsWith('\r\n'), 2000);
  }
  assert.match(c.text(), /\r\n550 5\.7\.68 [^\r]*\r\n221 [^\r]*\r\n$/);
  await c.ended;
  // The client still holds its side open. The record is written by the listener's close hook
  // (which also frees the connection slot): the server ended the session. With a half-close it
  // would wait for the client's FIN or smtp-server's 5 s deadline.
  assert.equal(c.socket.destroyed, false);
  const record = await gw.waitForTrace({ recipient: 'quit-probe@contoso.test' }, 2000);
  assert.equal(record.verdict, 'reject');
  assert.match(record.sessionId, /^[0-9a-v]{16}$/);
});

test('session ids: smtp-server\'s format of the same random bytes, and distinct across many', () => {
  for (let i = 0; i < 2000; i++) {
    const bytes = randomBytes(10);
    const library = BigInt(`0x${bytes.toString('hex')}`).toString(32).padStart(16, '0');
    assert.equal(sessionIdOf(bytes), library);
  }
  assert.equal(sessionIdOf(Buffer.alloc(10)), '0000000000000000');
  assert.equal(sessionIdOf(Buffer.alloc(10, 0xff)), 'vvvvvvvvvvvvvvvv');
  const ids = new Set(Array.from({ length: 5000 }, () => newSessionId()));
  assert.equal(ids.size, 5000);
  for (const id of ids) assert.match(id, /^[0-9a-v]{16}$/);
});
