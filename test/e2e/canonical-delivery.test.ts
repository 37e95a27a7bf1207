// Issue 11 end to end: every adversarial header section goes through the real listener. Refused
// ones get 550 5.6.0; accepted ones are delivered to the Maildir and, through the real relay, to a
// downstream SMTP server and to a real Postfix, and in every delivered copy Python's email package and mailparser read
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
import { postfixUnavailable, startPostfix } from '../helpers/postfix.ts';
import type { PostfixInstance } from '../helpers/postfix.ts';
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

async function filesIn(dir: string): Promise<Buffer[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map((n) => readFile(join(dir, n))));
}

/** One transaction with the case's bytes as the message; returns the reply to the final dot. */
async function sendRaw(port: number, message: Buffer, recipients: string[]): Promise<string | null> {
  const s = await RawSession.open(port);
  try {
    await s.reply();
    await s.command('EHLO client.sender.example');
    assert.match((await s.command('MAIL FROM:<sender@sender.example>')) ?? '', /^250/);
    for (const r of recipients) assert.match((await s.command(`RCPT TO:<${r}>`)) ?? '', /^250/);
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

type CopySource = [where: string, list: () => Promise<Buffer[]>];

test('adversarial headers through the real listener, Maildir, relay and Postfix: refused, or read alike by every reader', async (t) => {
  const downstream = await startCapturingDownstream();
  t.after(() => downstream.close());
  // A real Postfix behind the relay as well, where one can run (root, package installed).
  let postfix: PostfixInstance | null = null;
  const noPostfix = postfixUnavailable();
  if (noPostfix) t.diagnostic(`without the Postfix downstream: ${noPostfix}`);
  else {
    postfix = await startPostfix({ domains: ['pf.test'], mailboxes: ['carol@pf.test'] });
    t.after(() => postfix?.destroy());
  }
  const routes: Record<string, unknown> = { 'relay.test': { type: 'smtp', host: '127.0.0.1', port: downstream.port, starttls: 'off' } };
  if (postfix) routes['pf.test'] = { type: 'smtp', host: '127.0.0.1', port: postfix.port, starttls: 'off' };
  const gw = await startTestGateway({
    config: { authservId: AUTHSERV_ID, delivery: { routes } },
    policy: (doc) => ({ ...doc, rejectDirectSendHeaderFrom: 'report', acceptedDomains: ['contoso.test', 'relay.test', 'pf.test'].map((domain) => ({ domain })) as typeof doc.acceptedDomains }),
  });
  t.after(() => gw.close());
  const recipients = ['alice@contoso.test', 'bob@relay.test', ...(postfix ? ['carol@pf.test'] : [])];
  const sources: CopySource[] = [
    ['Maildir', () => filesIn(join(gw.dataDir, 'maildir', maildirFolderName('alice@contoso.test'), 'new'))],
    ['relay', async () => downstream.messages],
  ];
  if (postfix) { const dir = postfix.dir; sources.push(['Postfix', () => filesIn(join(dir, 'mail', 'carol@pf.test', 'new'))]); }

  const delivered: Array<{ name: string; author: string; ours: boolean; copies: Buffer[] }> = [];
  for (const c of headerCases) {
    const reply = await sendRaw(gw.inbound.port, messageOf(c), recipients);
    if ('refuse' in c.expect) {
      assert.match(reply ?? '', /^550 5\.6\.0 /, `${c.name}: ${reply}`);
      continue;
    }
    assert.match(reply ?? '', /^250 /, `${c.name}: ${reply}`);
    delivered.push({ name: c.name, author: c.expect.author, ours: c.expect.ours, copies: [] });
  }
  // Every accepted message is sent before any is waited for, so the deliveries overlap.
  for (const d of delivered) {
    const mark = bodyMark(d.name);
    for (const [where, list] of sources) d.copies.push(await waitFor(`${d.name} at ${where}`, async () => (await list()).find((m) => m.includes(mark))));
  }
  assert.ok(delivered.length >= 15, `${delivered.length} delivered cases`);

  const python = await readWithPython(delivered.flatMap((d) => d.copies));
  let at = 0;
  for (const d of delivered) {
    const stamped = ['x-mxward-authas', 'x-mxward-verdict', ...(d.ours ? ['x-mxward-directsend'] : [])];
    for (const [j, copy] of d.copies.entries()) {
      const where = sources[j][0];
      assert.deepEqual(disagreements(d.author, AUTHSERV_ID, python[at++], stamped), [], `${d.name} (${where}, python)`);
      assert.deepEqual(disagreements(d.author, AUTHSERV_ID, await readWithMailparser(copy), stamped), [], `${d.name} (${where}, mailparser)`);
      if (d.ours) assert.match(copy.toString('latin1'), /^X-Mxward-DirectSend: header-from;would-reject\r?$/m, `${d.name} (${where})`);
    }
  }
  const trace = await gw.waitForTrace({ verdict: 'accept' });
  assert.equal(trace.headerFrom.length, 1);
});
