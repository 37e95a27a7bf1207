// Issue 11 end to end: every adversarial header section goes through the real listener. Refused
// ones get 550 5.6.0; accepted ones are delivered to the Maildir and, through the real relay, to a
// downstream SMTP server, and in both delivered copies Python's email package and mailparser read
// the one author mxward decided on (the trace's) and only the trust fields mxward stamped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { maildirFolderName } from '../../src/spool/targets/maildir.ts';
import { headerCases, messageOf } from '../fixtures/adversarial/header-cases.ts';
import { disagreements } from '../helpers/agreement.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { freePort, waitFor } from '../helpers/loopback.ts';
import { readWithMailparser, readWithPython } from '../helpers/message-readers.ts';
import { RawSession } from '../helpers/smtp-session.ts';

const AUTHSERV_ID = 'mx.test.example';

async function startCapturingDownstream(): Promise<{ port: number; messages: Buffer[]; close(): Promise<void> }> {
  const messages: Buffer[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => { messages.push(Buffer.concat(chunks)); callback(null, 'captured'); });
    },
  });
  server.on('error', () => {});
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, messages, close: () => new Promise((r) => server.close(() => r())) };
}

async function maildirFiles(dataDir: string, recipient: string): Promise<Buffer[]> {
  const dir = join(dataDir, 'maildir', maildirFolderName(recipient), 'new');
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map((n) => readFile(join(dir, n))));
}

/** One transaction with the case's bytes as the message; returns the reply to the final dot. */
async function sendRaw(port: number, message: Buffer): Promise<string | null> {
  const s = await RawSession.open(port);
  try {
    await s.reply();
    await s.command('EHLO client.sender.example');
    assert.match((await s.command('MAIL FROM:<sender@sender.example>')) ?? '', /^250/);
    assert.match((await s.command('RCPT TO:<alice@contoso.test>')) ?? '', /^250/);
    assert.match((await s.command('RCPT TO:<bob@relay.test>')) ?? '', /^250/);
    assert.match((await s.command('DATA')) ?? '', /^354/);
    s.send(Buffer.concat([message, Buffer.from('.\r\n')]));
    const reply = await s.reply(10_000);
    await s.command('QUIT');
    return reply;
  } finally {
    s.close();
  }
}

const bodyMark = (name: string) => Buffer.from(`body of ${name}`, 'latin1');

test('adversarial headers through the real listener, Maildir and relay: refused, or read alike by every reader', async (t) => {
  const downstream = await startCapturingDownstream();
  t.after(() => downstream.close());
  const gw = await startTestGateway({
    config: { authservId: AUTHSERV_ID, delivery: { routes: { 'relay.test': { type: 'smtp', host: '127.0.0.1', port: downstream.port, starttls: 'off' } } } },
    policy: (doc) => ({ ...doc, rejectDirectSendHeaderFrom: 'report', acceptedDomains: [{ domain: 'contoso.test' }, { domain: 'relay.test' }] as typeof doc.acceptedDomains }),
  });
  t.after(() => gw.close());

  const delivered: Array<{ name: string; author: string; ours: boolean; copies: Buffer[] }> = [];
  for (const c of headerCases) {
    const reply = await sendRaw(gw.inbound.port, messageOf(c));
    if ('refuse' in c.expect) {
      assert.match(reply ?? '', /^550 5\.6\.0 /, `${c.name}: ${reply}`);
      continue;
    }
    assert.match(reply ?? '', /^250 /, `${c.name}: ${reply}`);
    const mark = bodyMark(c.name);
    const inMaildir = await waitFor(`${c.name} in the Maildir`, async () => (await maildirFiles(gw.dataDir, 'alice@contoso.test')).find((m) => m.includes(mark)));
    const relayed = await waitFor(`${c.name} at the downstream`, async () => downstream.messages.find((m) => m.includes(mark)));
    delivered.push({ name: c.name, author: c.expect.author, ours: c.expect.ours, copies: [inMaildir, relayed] });
  }
  assert.ok(delivered.length >= 15, `${delivered.length} delivered cases`);

  const python = await readWithPython(delivered.flatMap((d) => d.copies));
  for (const [i, d] of delivered.entries()) {
    const stamped = ['x-mxward-authas', 'x-mxward-verdict', ...(d.ours ? ['x-mxward-directsend'] : [])];
    for (const [j, copy] of d.copies.entries()) {
      const where = j === 0 ? 'Maildir' : 'relay';
      assert.deepEqual(disagreements(d.author, AUTHSERV_ID, python[i * 2 + j], stamped), [], `${d.name} (${where}, python)`);
      assert.deepEqual(disagreements(d.author, AUTHSERV_ID, await readWithMailparser(copy), stamped), [], `${d.name} (${where}, mailparser)`);
      if (d.ours) assert.match(copy.toString('latin1'), /^X-Mxward-DirectSend: header-from;would-reject\r$/m, `${d.name} (${where})`);
    }
  }
  const trace = await gw.waitForTrace({ verdict: 'accept' });
  assert.equal(trace.headerFrom.length, 1);
});
