// Issue 17: `mxward report` turns on Node's compile cache for its own process (the workers already
// had it), so that from the second run on its modules are not type-stripped and compiled again.
// Only for report, and never over the user's own choice (NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: plain JavaScript without declarations, run before the Node version is known
import { compileCacheFor } from '../../bin/node-runtime.js';
import { mxwardBin } from '../helpers/commands.ts';

test('report gets a compile cache in the temp directory unless the user chose or refused one', () => {
  assert.equal(compileCacheFor(['report', 'x.csv'], {}), join(tmpdir(), 'node-compile-cache'));
  assert.equal(compileCacheFor(['report'], { NODE_COMPILE_CACHE: '/somewhere' }), null);
  assert.equal(compileCacheFor(['report'], { NODE_DISABLE_COMPILE_CACHE: '1' }), null);
  for (const args of [['serve'], ['policy', 'report'], [], ['--version']]) assert.equal(compileCacheFor(args, {}), null);
});

test('a report run fills the cache; another command leaves it alone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-compile-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const csv = join(dir, 'trace.csv');
  writeFileSync(csv, 'Received,SenderAddress,RecipientAddress,Subject,Status,ToIP,FromIP,Size,MessageId,MessageTraceId\n'
    + '2026-11-21T10:00:00Z,scan@contoso.com,a@contoso.com,Scan,Delivered,,198.51.100.7,1000,<1@x>,1\n');
  // os.tmpdir() follows TMPDIR: each run gets its own, so the test sees only its own cache.
  const env = (tmp: string): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
    delete e.NODE_COMPILE_CACHE;
    delete e.NODE_DISABLE_COMPILE_CACHE;
    return e;
  };
  const forReport = join(dir, 'tmp-report');
  const forVersion = join(dir, 'tmp-version');
  for (const d of [forReport, forVersion]) mkdirSync(d);
  const report = spawnSync(process.execPath, [mxwardBin, 'report', csv, '--accepted-domain', 'contoso.com', '--data-dir', join(dir, 'data')], { encoding: 'utf8', env: env(forReport) });
  assert.equal(report.status, 0, report.stderr);
  assert.match(report.stdout, /198\.51\.100\.7/);
  const cache = join(forReport, 'node-compile-cache');
  assert.ok(existsSync(cache), 'no compile cache after a report');
  const files = (readdirSync(cache, { recursive: true }) as string[]).filter((f) => !f.endsWith('/'));
  assert.ok(files.length > 0, 'the compile cache is empty');
  const version = spawnSync(process.execPath, [mxwardBin, '--version'], { encoding: 'utf8', env: env(forVersion) });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(existsSync(join(forVersion, 'node-compile-cache')), false);
  // A temp directory where the cache cannot be made (Node's own recursive mkdir never returns
  // under /proc): the report runs without the cache instead of hanging.
  const nowhere = spawnSync(process.execPath, [mxwardBin, 'report', csv, '--accepted-domain', 'contoso.com', '--data-dir', join(dir, 'data2')],
    { encoding: 'utf8', env: env('/proc/mxward-no-such-dir'), timeout: 60_000 });
  assert.equal(nowhere.error, undefined, 'the report did not finish');
  assert.equal(nowhere.status, 0, nowhere.stderr);
  assert.match(nowhere.stdout, /198\.51\.100\.7/);
});
