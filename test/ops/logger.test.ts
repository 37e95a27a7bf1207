// Issue 16, log format: JSON lines by default, a readable line when stderr is a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createGatewayLogger, formatReadable } from '../../src/observability/logger.ts';

function capture(isTTY: boolean): { stream: Writable & { isTTY: boolean }; text: () => string } {
  let out = '';
  const stream = Object.assign(new Writable({ write(chunk: Buffer, _e, done) { out += chunk.toString(); done(); } }), { isTTY });
  return { stream, text: () => out };
}

test('auto format: JSON objects when stderr is not a terminal', async () => {
  const { stream, text } = capture(false);
  const logger = createGatewayLogger({ level: 'info', stderr: stream });
  logger.info({ stage: 'transaction', event: 'refused', reply: '550 5.7.68 x', traceId: 't1' }, 'transaction outcome');
  await new Promise((r) => setImmediate(r));
  const record = JSON.parse(text().trim()) as Record<string, unknown>;
  assert.equal(record.stage, 'transaction');
  assert.equal(record.event, 'refused');
  assert.equal(record.traceId, 't1');
  assert.equal(record.service, 'mxward');
});

test('auto format: one readable line per record on a terminal', async () => {
  const { stream, text } = capture(true);
  const logger = createGatewayLogger({ level: 'info', stderr: stream });
  logger.info({ stage: 'transaction', event: 'refused', reply: '550 5.7.68 x', traceId: 't1' }, 'transaction outcome');
  await new Promise((r) => setImmediate(r));
  assert.match(text(), /^\d\d:\d\d:\d\d INFO  transaction\/refused transaction outcome {2}reply=550 5\.7\.68 x traceId=t1\n$/);
});

test('a line that is not JSON is printed as it is', () => {
  assert.equal(formatReadable('plain words'), 'plain words');
});
