// The spool writer holds small writes in memory until flush/commit, and a small committed message
// is delivered from memory on its first attempt: same bytes as the file, which stays durable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../src/spool/spool.ts';
import { newEnvelope } from '../../src/spool/envelope.ts';
import { openSpooledMessage } from '../../src/spool/queue-runner.ts';

async function collect(stream: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts).toString('latin1');
}

test('writes reach the file at flush(); a committed small message is served from memory, then from disk after an update', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-spool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.recover();
  const w = await spool.createWriter();
  await w.write(Buffer.from('Subject: a\r\n'));
  await w.write(Buffer.from('\r\nbody\r\n'));
  assert.equal(await readFile(w.path, 'latin1').catch(() => null), null, 'held in memory: no file yet');
  await w.flush();
  assert.equal((await readFile(w.path, 'latin1')), 'Subject: a\r\n\r\nbody\r\n');
  const envelope = newEnvelope({ queueId: w.queueId, mailFrom: 'a@b.test', recipients: ['c@d.test'], prependHeaders: 'Received: x\r\n', transactionId: 't', now: new Date() });
  await spool.commit(w, envelope);
  assert.equal(await readFile(spool.messagePath(w.queueId), 'latin1'), 'Subject: a\r\n\r\nbody\r\n', 'durable on disk');
  assert.ok(spool.freshMessage(w.queueId));
  // Prove the first attempt does not read the file: change the file behind the spool's back.
  await writeFile(spool.messagePath(w.queueId), 'changed\r\n');
  assert.equal(await collect(openSpooledMessage(spool, envelope)), 'Received: x\r\nSubject: a\r\n\r\nbody\r\n');
  await spool.updateEnvelope(envelope); // a deferral: later attempts read the file
  assert.equal(spool.freshMessage(w.queueId), undefined);
  assert.equal(await collect(openSpooledMessage(spool, envelope)), 'Received: x\r\nchanged\r\n');
  await spool.remove(w.queueId);
});

test('a message larger than the write buffer is written as it comes and read from disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-spool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.recover();
  const w = await spool.createWriter();
  const big = Buffer.alloc(100 * 1024, 'x');
  await w.write(big);
  assert.equal((await readFile(w.path)).length, big.length);
  await w.write(Buffer.from('tail'));
  const envelope = newEnvelope({ queueId: w.queueId, mailFrom: null, recipients: ['c@d.test'], prependHeaders: '', transactionId: 't', now: new Date() });
  await spool.commit(w, envelope);
  assert.equal(spool.freshMessage(w.queueId), undefined);
  assert.equal((await collect(openSpooledMessage(spool, envelope))).length, big.length + 4);
});
