// Issue 11: a recipient the embedded Maildir can never store (its folder name over the file
// system's 255 bytes) fails for good on the first attempt and is bounced at once, instead of
// being retried for the queue's whole lifetime (five days).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Spool } from '../../src/spool/spool.ts';
import { newEnvelope } from '../../src/spool/envelope.ts';
import { QueueRunner } from '../../src/spool/queue-runner.ts';
import type { AttemptReport } from '../../src/spool/queue-runner.ts';
import { spoolDsn } from '../../src/spool/dsn.ts';
import { MaildirTarget, maildirUnstorableReason } from '../../src/spool/targets/maildir.ts';
import { compileRoutingTable, routesToMaildir } from '../../src/spool/routing.ts';
import { maildirMessages } from '../helpers/maildir.ts';

const LONG = `${'é'.repeat(240)}@contoso.test`;

test('maildirUnstorableReason: the folder name is measured in UTF-8 bytes, 255 at most', () => {
  assert.equal(maildirUnstorableReason('alice@contoso.test'), null);
  assert.equal(maildirUnstorableReason(`${'a'.repeat(242)}@contoso.test`), null, '255 bytes exactly');
  assert.match(maildirUnstorableReason(`${'a'.repeat(243)}@contoso.test`) ?? '', /256 bytes/);
  assert.match(maildirUnstorableReason(LONG) ?? '', /493 bytes/, '240 × é is 480 bytes');
});

test('routesToMaildir: only recipients whose route is the embedded Maildir are checked', () => {
  const table = compileRoutingTable({
    routes: { 'relay.test': { type: 'smtp', host: 'h', port: 25, starttls: 'off', verifyCertificate: false, concurrency: 1, connectTimeoutMs: 1000 } },
    default: { type: 'maildir' },
  });
  assert.equal(routesToMaildir(table, 'a@contoso.test'), true);
  assert.equal(routesToMaildir(table, 'a@relay.test'), false);
});

test('MaildirTarget: an unstorable recipient fails permanently (5.1.3), the others are delivered', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-maildir-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const target = new MaildirTarget(join(dataDir, 'maildir'));
  const outcomes = await target.deliver({ queueId: 'Q1', mailFrom: 's@client.test', recipients: [LONG, 'bob@contoso.test'], openMessage: () => Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]) });
  assert.equal(outcomes[0].status, 'failed');
  assert.match(outcomes[0].reply, /^550 5\.1\.3 /);
  assert.equal(outcomes[1].status, 'delivered');
  assert.equal((await maildirMessages(dataDir, 'bob@contoso.test')).length, 1);
});

test('the queue bounces an unstorable recipient on the first attempt, with a DSN to the sender', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-bounce-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(join(dir, 'spool'));
  await spool.recover();
  const finished: AttemptReport[] = [];
  const bounced: string[] = [];
  const queue = new QueueRunner(spool, new MaildirTarget(join(dir, 'maildir')), {
    onFinished: (r) => finished.push(r),
    onError: (_id, err) => { throw err; },
    onPermanentFailure: async (envelope, failed) => {
      bounced.push(...failed.map((r) => r.address));
      return spoolDsn(spool, envelope, failed, 'mx.test.example');
    },
  }, { concurrency: 1, retryDelaysMs: [3_600_000], maxQueueLifetimeMs: 5 * 24 * 3_600_000, rescanMs: 0 });
  t.after(async () => { await queue.stop(); await spool.close(); });
  const queueId = await spool.commitBuffer(Buffer.from('Subject: to a long name\r\nFrom: s@client.test\r\n\r\nbody\r\n'), (id) => newEnvelope({
    queueId: id, mailFrom: 'sender@client.test', recipients: [LONG, 'bob@contoso.test'], prependHeaders: '', transactionId: 't1', now: new Date(),
  }));
  queue.enqueue(queueId);
  await queue.whenIdle();
  const report = finished.find((r) => r.queueId === queueId);
  assert.equal(report?.status, 'failed', 'finished on the first attempt, not deferred for days');
  assert.equal(report?.attempts, 1);
  assert.deepEqual(bounced, [LONG]);
  assert.equal((await maildirMessages(dir, 'bob@contoso.test')).length, 1);
  const dsn = await maildirMessages(dir, 'sender@client.test');
  assert.equal(dsn.length, 1, 'the DSN went to the sender');
  assert.match(dsn[0], /^Status: 5\.1\.3$/m);
});
