// The batched stderr destination (src/observability/log-destination.ts): lines share writes, a
// quiet tail still goes out on the timer, and a crash or a SIGTERM exit loses no line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bufferedStderr } from '../../src/observability/log-destination.ts';
import { waitFor } from '../helpers/loopback.ts';

test('lines wait for company instead of one write each, and a quiet tail is written on the timer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-logdest-'));
  const file = join(dir, 'log');
  const fd = openSync(file, 'a');
  t.after(() => { closeSync(fd); rmSync(dir, { recursive: true, force: true }); });
  // A timer far longer than a few turns, so "not written yet" is certain, short enough to wait for.
  const dest = bufferedStderr(fd, 300);
  dest.write('{"n":1}\n');
  dest.write('{"n":2}\n');
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(readFileSync(file, 'utf8'), '', 'small lines are held, not written one by one');
  await waitFor('the log file', async () => readFileSync(file, 'utf8') === '{"n":1}\n{"n":2}\n', 10_000);
  // A second burst after a quiet spell goes out too (the timer is armed again by a new line).
  dest.write('{"n":3}\n');
  await waitFor('the log file', async () => readFileSync(file, 'utf8').endsWith('{"n":3}\n'), 10_000);
});

test('a burst past the buffer size is written without waiting for the timer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-logdest-'));
  const file = join(dir, 'log');
  const fd = openSync(file, 'a');
  t.after(() => { closeSync(fd); rmSync(dir, { recursive: true, force: true }); });
  const dest = bufferedStderr(fd, 600_000);
  const line = `${JSON.stringify({ pad: 'x'.repeat(500) })}\n`;
  for (let i = 0; i < 20; i++) dest.write(line);
  await waitFor('the log file', async () => readFileSync(file, 'utf8').length >= 4096, 10_000);
  dest.flush();
  await waitFor('the log file', async () => readFileSync(file, 'utf8') === line.repeat(20), 10_000);
});

// A child gateway logger on a real stderr (not a terminal, so the batched destination) logs one
// line and then ends the way the case says; the line must reach the parent whatever the ending.
const CHILD = `
import { createGatewayLogger } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/observability/logger.ts'))};
const logger = createGatewayLogger({ level: 'info', format: 'json' });
logger.info({ stage: 'transaction', event: 'refused', traceId: 'last-words' }, 'transaction outcome');
const how = process.argv.at(-1);
if (how === 'crash') setImmediate(() => { throw new Error('crash after logging'); });
if (how === 'sigterm') { process.once('SIGTERM', () => process.exit(0)); process.stdout.write('ready\\n'); setInterval(() => {}, 1000); }
`;

for (const how of ['crash', 'sigterm', 'exit'] as const) {
  test(`a buffered line is written when the process ends by ${how}`, async (t) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, how], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    if (how === 'sigterm') {
      await new Promise<void>((r) => child.stdout.once('data', () => r()));
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    assert.equal(code, how === 'crash' ? 1 : 0);
    const line = stderr.split('\n').find((l) => l.includes('last-words'));
    assert.ok(line, `the outcome line is in the child's stderr: ${stderr}`);
    assert.equal((JSON.parse(line) as { event: string }).event, 'refused');
  });
}
