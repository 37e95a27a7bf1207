// Route options against an SMTP server that records what it saw (smtp-server, its built-in
// self-signed certificate): STARTTLS required + AUTH, certificate verification refusing an
// untrusted certificate (deferred, never bounced), and the queue lifetime ending in a DSN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerSession } from 'smtp-server';
import { startTestGateway } from '../helpers/gateway.ts';
import { freePort } from '../helpers/postfix.ts';
import { waitForMaildir } from '../helpers/maildir.ts';
import { waitFor } from '../helpers/loopback.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';

interface Seen { secure: boolean; user: string | null; from: string; to: string[] }

async function downstream(opts: { rcptReply?: { code: number; text: string } } = {}) {
  const seen: Seen[] = [];
  const server = new SMTPServer({
    logger: false, authMethods: ['PLAIN', 'LOGIN'], authOptional: true,
    onAuth(auth, _session, cb) {
      if (auth.username === 'relay' && auth.password === 's3cret') cb(null, { user: 'relay' });
      else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(_addr, _session, cb) {
      if (opts.rcptReply) cb(Object.assign(new Error(opts.rcptReply.text), { responseCode: opts.rcptReply.code }));
      else cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      stream.resume();
      stream.on('end', () => {
        seen.push({ secure: session.secure, user: (session.user as string | undefined) ?? null, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) });
        cb();
      });
    },
  });
  server.on('error', () => {});
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const acceptExample = (doc: { acceptedDomains: unknown[] }) => ({ ...doc, acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }] });

test('STARTTLS required with AUTH: the downstream sees a TLS session and the relay user', async () => {
  const ds = await downstream();
  const gateway = await startTestGateway({
    config: { delivery: { routes: { 'example.test': { type: 'smtp', host: '127.0.0.1', port: ds.port, starttls: 'required', verifyCertificate: false, auth: { user: 'relay', pass: 's3cret' } } } } },
    policy: acceptExample as never,
  });
  try {
    const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'auth-1' }));
    assert.equal(r.code, 250, r.reply);
    const until = Date.now() + 10_000;
    while (ds.seen.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(ds.seen, [{ secure: true, user: 'relay', from: 'sender@client.test', to: ['alice@example.test'] }]);
  } finally {
    await gateway.close();
    await ds.close();
  }
});

test('an untrusted downstream certificate with verification on, or a wrong password: deferred, not sent, not bounced', async () => {
  const ds = await downstream();
  const base = { type: 'smtp', host: '127.0.0.1', port: ds.port, starttls: 'required' };
  const gateway = await startTestGateway({
    config: { delivery: {
      routes: { 'example.test': { ...base, verifyCertificate: true }, 'other.test': { ...base, verifyCertificate: false, auth: { user: 'relay', pass: 'wrong' } } },
      retryDelaysSeconds: [3600],
    } },
    policy: (doc) => ({ ...doc, acceptedDomains: [{ domain: 'example.test', includeSubdomains: false, recipients: [] }, { domain: 'other.test', includeSubdomains: false, recipients: [] }] }),
  });
  try {
    assert.equal((await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'verify-1' }))).code, 250);
    assert.equal((await sendOne(gateway.inbound.port, 'sender@client.test', ['carol@other.test'], testMessage({ subject: 'auth-bad' }))).code, 250);
    // Trace updates are written in batches (store), so wait for both records to leave `queued`.
    const traced = async (rcpt: string) => {
      const until = Date.now() + 10_000;
      for (;;) {
        const [t] = await gateway.store.queryTrace({ recipient: rcpt });
        if (t && t.deliveryStatus !== 'queued') return t;
        if (Date.now() > until) throw new Error(`no delivery attempt traced for ${rcpt}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    const verify = await traced('alice@example.test');
    const auth = await traced('carol@other.test');
    assert.equal(ds.seen.length, 0);
    assert.equal(verify.deliveryStatus, 'deferred');
    // smtp-server's built-in certificate is self-signed (and by now expired): either way untrusted.
    assert.match(verify.deliveryReply ?? '', /self[- ]signed|certificate/i);
    assert.equal(auth.deliveryStatus, 'deferred');
    assert.match(auth.deliveryReply ?? '', /^535/);
    assert.equal(gateway.queue.size, 2, 'both stay queued; no DSN was made');
  } finally {
    await gateway.close();
    await ds.close();
  }
});

test('past maxQueueLifetime a deferred recipient fails, with a DSN to the sender carrying the last reply', async () => {
  const ds = await downstream({ rcptReply: { code: 451, text: '4.3.0 try again later' } });
  const gateway = await startTestGateway({
    // client.test (the sender's domain) stays on the embedded Maildir, so the DSN can be read there.
    config: { delivery: {
      routes: { 'example.test': { type: 'smtp', host: '127.0.0.1', port: ds.port, starttls: 'off' } },
      retryDelaysSeconds: [0.3], maxQueueLifetimeHours: 1.5 / 3600,
    } },
    policy: acceptExample as never,
  });
  try {
    const r = await sendOne(gateway.inbound.port, 'sender@client.test', ['alice@example.test'], testMessage({ subject: 'expire-1' }));
    assert.equal(r.code, 250, r.reply);
    const [dsn] = await waitForMaildir(gateway.dataDir, 'sender@client.test', 1, 15_000);
    assert.match(dsn, /^Final-Recipient: rfc822; alice@example\.test/m);
    assert.match(dsn, /^Status: 4\.3\.0/m, 'the last temporary reply is the status');
    assert.match(dsn, /^Diagnostic-Code: smtp; 451 4\.3\.0 try again later \(gave up: queue lifetime exceeded\)/m);
    // The DSN can reach the Maildir before the delivery update (a background trace write) commits.
    const record = await waitFor('the trace record marked failed', async () => {
      const [found] = await gateway.store.queryTrace({ recipient: 'alice@example.test' });
      return found?.deliveryStatus === 'failed' ? found : null;
    }, 10_000);
    assert.equal(record.deliveryStatus, 'failed');
    assert.ok((record.deliveryAttempts ?? 0) >= 2, `attempts ${record.deliveryAttempts}`);
  } finally {
    await gateway.close();
    await ds.close();
  }
});
