// Issue 17: `mxward report` runs in a Node started with an 8 MB semi-space (V8 fixes the young
// generation's size at start; the main thread reads a range of a big trace) and with gc() exposed
// (src/report/import/heap-collector.ts). The launcher asks
// nodeFlagsFor which flags a command still needs, and re-runs itself with them only then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: plain JavaScript without declarations, run before the Node version is known
import { REPORT_NODE_FLAGS, childEnvFor, nodeFlagsFor } from '../../bin/node-runtime.js';
import { mxwardBin } from '../helpers/commands.ts';

test('report needs the semi-space flag and gc() unless Node already has them; other commands need none', () => {
  assert.deepEqual(REPORT_NODE_FLAGS, ['--max-semi-space-size=8', '--expose-gc']);
  assert.deepEqual(nodeFlagsFor(['report', 'trace.csv'], []), ['--max-semi-space-size=8', '--expose-gc']);
  assert.deepEqual(nodeFlagsFor(['report'], ['--max-semi-space-size=16']), ['--expose-gc']);
  assert.deepEqual(nodeFlagsFor(['report'], ['--max-semi-space-size=8', '--no-warnings', '--expose-gc']), []);
  for (const args of [['serve'], ['policy', 'report'], [], ['--version']]) assert.deepEqual(nodeFlagsFor(args, []), []);
});

test('the report child gets MALLOC_ARENA_MAX=2 unless the user set it; other commands get the environment unchanged', () => {
  const env = { PATH: '/bin' };
  assert.deepEqual(childEnvFor(['report', 'trace.csv'], env), { PATH: '/bin', MALLOC_ARENA_MAX: '2' });
  assert.deepEqual(env, { PATH: '/bin' });
  assert.deepEqual(childEnvFor(['report'], { MALLOC_ARENA_MAX: '4' }), { MALLOC_ARENA_MAX: '4' });
  for (const args of [['serve'], ['policy', 'report'], []]) assert.equal(childEnvFor(args, env), env);
});

test('the re-run report keeps its output, its exit code and its stdin', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-report-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const csv = 'Received,SenderAddress,RecipientAddress,Subject,Status,ToIP,FromIP,Size,MessageId,MessageTraceId\n'
    + '2026-11-21T10:00:00Z,scan@contoso.com,a@contoso.com,Scan,Delivered,,198.51.100.7,1000,<1@x>,1\n';
  const file = join(dir, 'trace.csv');
  writeFileSync(file, csv);
  const run = (args: string[], input?: string) => spawnSync(process.execPath, [mxwardBin, 'report', ...args, '--accepted-domain', 'contoso.com', '--data-dir', join(dir, 'data')], { input, encoding: 'utf8' });
  const fromFile = run([file]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  assert.match(fromFile.stdout, /198\.51\.100\.7/);
  const fromStdin = run(['-'], csv);
  assert.equal(fromStdin.status, 0, fromStdin.stderr);
  assert.match(fromStdin.stdout, /198\.51\.100\.7/);
  const missing = run([join(dir, 'none.csv')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no such file/);
});
