// The end-of-DATA scan installed into smtp-server (src/smtp/data-scan.ts) must read a session
// exactly as the library's own method does: the same message bytes, the same end of data, the
// same commands after it, on random input made of the bytes that matter (CR, LF, dot) cut into
// random chunks, including terminators split across chunks and messages that start with one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { installFastDataScan, libraryFeedDataStream } from '../../src/smtp/data-scan.ts';

installFastDataScan();

/** What a parser saw: commands, and each message as the data stream gave it. */
async function readSession(chunks: Buffer[], library: boolean): Promise<string[]> {
  const parser = new SMTPStream();
  if (library) parser._feedDataStream = libraryFeedDataStream;
  const seen: string[] = [];
  parser.oncommand = (command: Buffer, next?: () => void) => {
    const line = command.toString('latin1');
    seen.push(`cmd ${JSON.stringify(line)}`);
    if (line === 'DATA') {
      const stream = parser.startDataMode();
      const parts: Buffer[] = [];
      stream.on('data', (b: Buffer) => parts.push(b));
      stream.on('end', () => {
        seen.push(`data ${JSON.stringify(Buffer.concat(parts).toString('latin1'))} bytes=${parser.dataBytes}`);
        setImmediate(() => parser.continue());
      });
      // Not synchronously: smtp-server's continue() clears the continuation after calling it, so
      // a whole next transaction parsed inside that call would leave the session stalled (the
      // library's behaviour, the same with either scan; a client pipelining DATA stalls itself).
      setImmediate(() => next?.());
      return;
    }
    next?.();
  };
  await new Promise<void>((resolve, reject) => {
    parser.on('finish', resolve);
    parser.on('error', reject);
    for (const c of chunks) parser.write(c);
    parser.end();
  });
  return seen;
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function randomBody(rnd: () => number, maxLength: number): string {
  const pieces = ['\r', '\n', '.', 'a', '\r\n', '\r\n.', '\r\n..', '\r\n.\r\n', '.\r\n', 'b'];
  let body = '';
  const n = Math.floor(rnd() * maxLength);
  for (let i = 0; i < n; i++) body += pieces[Math.floor(rnd() * pieces.length)];
  return body;
}

test('the installed scan reads random sessions exactly as smtp-server does, in any chunking', async () => {
  for (let seed = 1; seed <= 2000; seed++) {
    const rnd = random(seed);
    // Two transactions; bodies may hold a terminator of their own (what follows it is commands).
    const session = `DATA\r\n${randomBody(rnd, 40)}\r\n.\r\nNOOP\r\nDATA\r\n${randomBody(rnd, 40)}\r\n.\r\nQUIT\r\n`;
    const bytes = Buffer.from(session, 'latin1');
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = Math.max(1, Math.floor(rnd() * 12));
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    const ours = await readSession(chunks, false);
    const theirs = await readSession(chunks, true);
    assert.deepEqual(ours, theirs, `seed ${seed}: ${JSON.stringify(session)}`);
  }
});

test('a large message in large chunks: same bytes, dots unstuffed, ends at the terminator', async () => {
  const body = `Subject: x\r\n\r\n${'line\r\n..dot\r\n.\r'.repeat(3000)}\r\nend`;
  const bytes = Buffer.from(`DATA\r\n${body}\r\n.\r\nQUIT\r\n`, 'latin1');
  const chunks = [bytes.subarray(0, 20_000), bytes.subarray(20_000, 20_003), bytes.subarray(20_003)];
  const ours = await readSession(chunks, false);
  assert.deepEqual(ours, await readSession(chunks, true));
  assert.equal(ours.length, 3);
  assert.ok(ours[1].includes('line\\r\\n.dot\\r\\n'), 'a stuffed dot is removed');
  assert.equal(ours[2], 'cmd "QUIT"');
});
