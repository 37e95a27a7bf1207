// Issue 16, any fresh machine: bin/mxward.js started by a Node older than 22.19 (this machine's
// /usr/bin/node is 20) re-runs itself under the Node 24 that npm install put in node_modules,
// prints no warning, and passes SIGTERM on so serve stops cleanly. Skipped where no older Node
// is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxwardBin, run } from '../helpers/commands.ts';
import { waitFor } from '../helpers/loopback.ts';
// @ts-expect-error: plain JavaScript without declarations, run before the Node version is known
import { bundledNode, nodeIsEnough } from '../../bin/node-runtime.js';

const OLD_NODES = ['/usr/bin/node', '/usr/local/bin/node', '/bin/node'];
const oldNode = OLD_NODES.find((bin) => {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return r.status === 0 && !nodeIsEnough(r.stdout.trim());
});
const skip = !oldNode ? 'no Node older than 22.19 on this machine' : !bundledNode() ? 'no Node 24 in node_modules (npm install --omit=optional?)' : false;

test('the version rule: 22.19 and later run mxward directly', () => {
  assert.equal(nodeIsEnough('v20.20.2'), false);
  assert.equal(nodeIsEnough('v22.18.0'), false);
  assert.equal(nodeIsEnough('v22.19.0'), true);
  assert.equal(nodeIsEnough('v24.1.0'), true);
});

test('an older Node runs mxward under the bundled Node 24, quietly', { skip }, async () => {
  const r = await run(oldNode!, [mxwardBin, '--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'mxward 0.1.0\n');
  assert.equal(r.stderr, '');
  const usage = await run(oldNode!, [mxwardBin, 'nope']);
  assert.equal(usage.code, 2, 'exit codes pass through');
  assert.match(usage.stderr, /^mxward: unknown command "nope"/);
});

test('SIGTERM to the launcher stops serve cleanly (exit 0, the stop line logged)', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-launcher-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'mxward.yaml');
  writeFileSync(config, 'listeners:\n  inbound: { host: 127.0.0.1, port: 0 }\n  submission: null\nlogFormat: json\n');
  const child = spawn(oldNode!, [mxwardBin, 'serve', '--config', config, '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await waitFor('ready line', async () => stderr.includes('"event":"ready"'), 120_000);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /"event":"stopping","signal":"SIGTERM"/);
  assert.doesNotMatch(stderr, /Warning/);
});

test('Node 22\'s experimental warnings are muted, other warnings still print', async () => {
  const script = `import('${new URL('../../bin/node-runtime.js', import.meta.url).href}').then(({ muteExperimentalWarnings }) => {
    muteExperimentalWarnings();
    process.emitWarning('SQLite is an experimental feature', 'ExperimentalWarning');
    process.emitWarning(Object.assign(new Error('also experimental'), { name: 'ExperimentalWarning' }));
    process.emitWarning('old API', 'DeprecationWarning');
  });`;
  const r = await run(process.execPath, ['-e', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /experimental/i);
  assert.match(r.stderr, /DeprecationWarning: old API/);
});
