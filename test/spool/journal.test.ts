// The commit journal (group commit for small messages): records survive a restart, a torn or
// corrupt tail is ignored, finished segments are deleted, and recovery turns what was not
// delivered into ordinary queue/ entries without overwriting one that was already written out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, readJournal } from '../../src/spool/journal.ts';
import { Spool, syncDirectory } from '../../src/spool/spool.ts';
import { newEnvelope } from '../../src/spool/envelope.ts';
import { waitFor } from '../helpers/loopback.ts';
import type { SpoolEnvelope } from '../../src/spool/envelope.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const logs = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.log'));

test('appended messages are read back; released ones are not live', async (t) => {
  const dir = join(await tempDir(t), 'j');
  const journal = new Journal(dir, syncDirectory);
  // Appended together: they share rounds, and every promise resolves.
  await Promise.all(['A1', 'A2', 'A3'].map((id) => journal.append(id, `{"queueId":"${id}"}`, Buffer.from(`body of ${id}\r\n`))));
  journal.release('A2');
  await journal.close();
  const { segments, live } = await readJournal(dir);
  assert.equal(segments.length, 1);
  assert.deepEqual(live.map((m) => m.queueId), ['A1', 'A3']);
  assert.equal(live[1].message.toString(), 'body of A3\r\n');
  assert.equal(live[1].envelopeText, '{"queueId":"A3"}');
});

test('a torn last record and a corrupt record end the segment there', async (t) => {
  const dir = join(await tempDir(t), 'j');
  const journal = new Journal(dir, syncDirectory);
  for (const id of ['B1', 'B2', 'B3']) await journal.append(id, '{}', Buffer.alloc(100, id));
  await journal.close();
  const [name] = await logs(dir);
  const path = join(dir, name);
  const whole = await readFile(path);
  await truncate(path, whole.length - 5); // a crash in the middle of the last, unacknowledged write
  assert.deepEqual((await readJournal(dir)).live.map((m) => m.queueId), ['B1', 'B2']);
  const corrupt = Buffer.from(whole);
  corrupt[Math.floor(whole.length / 2)] ^= 0xff; // inside B2's body
  await writeFile(path, corrupt);
  assert.deepEqual((await readJournal(dir)).live.map((m) => m.queueId), ['B1']);
});

test('a segment is deleted once it is full and all of its messages are released', async (t) => {
  const dir = join(await tempDir(t), 'j');
  const journal = new Journal(dir, syncDirectory, { segmentBytes: 300 });
  for (const id of ['C1', 'C2', 'C3', 'C4']) await journal.append(id, '{}', Buffer.alloc(200, 'x'));
  const written = (await logs(dir)).sort();
  assert.ok(written.length >= 2, 'small segments: several files');
  for (const id of ['C1', 'C2', 'C3']) journal.release(id);
  await journal.close();
  const left = await readJournal(dir);
  assert.deepEqual(left.live.map((m) => m.queueId), ['C4']);
  const remaining = await logs(dir);
  assert.ok(!remaining.includes(written[0]), 'the first segment (C1, C2) is deleted');
  assert.ok(remaining.includes(written[written.length - 1]), 'the segment holding C4 is kept');
});

test('a done record goes out with the next message, or on its own shortly after, and at close', async (t) => {
  const dir = join(await tempDir(t), 'j');
  const journal = new Journal(dir, syncDirectory);
  await journal.append('D1', '{}', Buffer.from('one'));
  await journal.append('D2', '{}', Buffer.from('two'));
  journal.release('D1');
  await journal.append('D3', '{}', Buffer.from('three'));
  assert.deepEqual((await readJournal(dir)).live.map((m) => m.queueId), ['D2', 'D3'], 'written with D3');
  journal.release('D2');
  // No message follows: the record is written anyway.
  await waitFor('D2 done', async () => (await readJournal(dir)).live.length === 1);
  journal.release('D3');
  await journal.close();
  assert.deepEqual((await readJournal(dir)).live, [], 'close writes what is pending');
});

test('records with large messages are read back byte for byte', async (t) => {
  const dir = join(await tempDir(t), 'j');
  const journal = new Journal(dir, syncDirectory);
  const bodies = [Buffer.alloc(0), Buffer.alloc(70_000, 'a'), Buffer.from('é'.repeat(1000)), Buffer.alloc(3, 0)];
  await Promise.all(bodies.map((b, i) => journal.append(`E${i}`, `{"n":"é${i}"}`, b)));
  await journal.close();
  const { live } = await readJournal(dir);
  assert.deepEqual(live.map((m) => [m.queueId, m.envelopeText, m.message]), bodies.map((b, i) => [`E${i}`, `{"n":"é${i}"}`, b]));
});

function envelopeFor(queueId: string): SpoolEnvelope {
  return newEnvelope({ queueId, mailFrom: 'a@b.test', recipients: ['c@d.test'], prependHeaders: 'Received: x\r\n', transactionId: 't', now: new Date() });
}

async function commitSmall(spool: Spool, body: string): Promise<string> {
  const w = await spool.createWriter();
  await w.write(Buffer.from(body));
  await spool.commit(w, envelopeFor(w.queueId), { journal: true });
  return w.queueId;
}

test('spool: a journalled message has no queue/ files; after a crash, recovery writes it out as an entry', async (t) => {
  const root = await tempDir(t);
  const spool = new Spool(root, undefined, { journal: true });
  await spool.recover();
  const delivered = await commitSmall(spool, 'Subject: one\r\n\r\ndelivered\r\n');
  const pending = await commitSmall(spool, 'Subject: two\r\n\r\nnot yet\r\n');
  assert.deepEqual(await readdir(join(root, 'queue')), [], 'no files per message');
  assert.equal((await spool.readEnvelope(pending))?.queueId, pending);
  assert.ok(await spool.has(pending));
  await spool.remove(delivered);
  assert.equal(await spool.has(delivered), false);
  // The `done` record is not waited for (it goes out with the next write, or shortly after): a
  // crash before it is written would deliver the message again. Here the crash comes after it.
  const dir = join(root, 'journal', 'main');
  await waitFor('the done record', async () => !(await readJournal(dir)).live.some((m) => m.queueId === delivered));

  // A crash: the process is gone without close(); a new one recovers.
  const after = new Spool(root, undefined, { journal: true });
  assert.deepEqual(await after.recover(), [pending]);
  assert.equal(await readFile(after.messagePath(pending), 'latin1'), 'Subject: two\r\n\r\nnot yet\r\n');
  assert.equal((JSON.parse(await readFile(after.envelopePath(pending), 'utf8')) as SpoolEnvelope).queueId, pending);
  assert.deepEqual(await logs(join(root, 'journal', 'main')), [], 'segments deleted after recovery');
});

test('spool: a deferred message is written out with its new state, and a crash does not bring back the old one', async (t) => {
  const root = await tempDir(t);
  const spool = new Spool(root, undefined, { journal: true });
  await spool.recover();
  const id = await commitSmall(spool, 'Subject: deferred\r\n\r\nbody\r\n');
  const envelope = (await spool.readEnvelope(id))!;
  envelope.recipients[0].attempts = 1;
  envelope.recipients[0].lastReply = '451 4.3.0 try later';
  await spool.updateEnvelope(envelope);
  assert.deepEqual(await spool.listQueueIds(), [id], 'now an ordinary entry the CLI can see');
  assert.equal(spool.freshMessage(id), undefined);
  const after = new Spool(root, undefined, { journal: true });
  assert.deepEqual(await after.recover(), [id]);
  assert.equal((await after.readEnvelope(id))?.recipients[0].attempts, 1, 'the written-out state wins');
});

test('spool: close() writes out what the journal still holds', async (t) => {
  const root = await tempDir(t);
  const spool = new Spool(root, undefined, { journal: true });
  await spool.recover();
  const id = await commitSmall(spool, 'Subject: at shutdown\r\n\r\nbody\r\n');
  await spool.close();
  assert.deepEqual(await spool.listQueueIds(), [id]);
  assert.equal(await readFile(spool.messagePath(id), 'latin1'), 'Subject: at shutdown\r\n\r\nbody\r\n');
  assert.deepEqual(await logs(join(root, 'journal', 'main')), []);
});

test('spool: without the journal option (the CLI) a commit writes queue/ files as before', async (t) => {
  const root = await tempDir(t);
  const spool = new Spool(root);
  await spool.recover();
  const id = await commitSmall(spool, 'Subject: cli\r\n\r\nbody\r\n');
  assert.deepEqual(await spool.listQueueIds(), [id]);
});
