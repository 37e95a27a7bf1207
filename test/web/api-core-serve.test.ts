// The console as `mxward serve` starts it (the quick start's path): the first administrator's
// password goes to a 0600 file and never into the log, the console answers over TLS with the
// gateway's certificate, a restart keeps the account; and runInWorker keeps heavy work off the
// event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxwardBin } from '../helpers/commands.ts';
import { WebClient } from '../helpers/web-client.ts';
import { runInWorker } from '../../src/web/run-in-worker.ts';

interface Served { url: string; stderr: () => string; stop(): Promise<number | null> }

async function serve(config: string, dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [mxwardBin, 'serve', '--config', config, '--listen', '127.0.0.1:0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolveUrl, rejectUrl) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        // Once serve reports its listeners it also handles SIGTERM.
        const m = /"url":"(https:\/\/127\.0\.0\.1:\d+)\/console\/"/.exec(stderr);
        if (m && /inbound SMTP on/.test(stderr)) resolveUrl(m[1]);
      });
      child.on('exit', () => rejectUrl(new Error(`serve exited early: ${stderr}`)));
      setTimeout(() => rejectUrl(new Error(`the console did not start: ${stderr}`)), 20_000);
    });
    return { url, stderr: () => stderr, stop: async () => { child.kill('SIGTERM'); return exited; } };
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
}

test('serve starts the console over TLS; the initial password is in a 0600 file, never in the log', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-console-serve-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'mxward.yaml');
  await writeFile(config, 'hostname: mx.console.test\nlisteners:\n  submission: null\nlogFormat: json\nconsole: { host: 127.0.0.1, port: 0 }\n');
  const dataDir = join(dir, 'data');
  const first = await serve(config, dataDir);
  let password: string;
  try {
    const file = join(dataDir, 'console-initial-password');
    password = (await readFile(file, 'utf8')).trim();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(first.stderr(), /console-initial-password/, 'the log says where the password is');
    assert.ok(!first.stderr().includes(password), 'the log never holds the password');
    const ca = await readFile(join(dataDir, 'tls', 'self-signed.crt'), 'utf8');
    const client = new WebClient(first.url, { kind: 'anonymous' }, ca);
    const signedIn = await client.post('/session', { username: 'admin', password });
    assert.equal(signedIn.status, 201);
    const index = await client.fetch('GET', '/console/');
    assert.equal(index.status, 200);
  } finally {
    assert.equal(await first.stop(), 0);
  }
  // A restart finds the account: no second password, the file is left as it was.
  const second = await serve(config, dataDir);
  try {
    assert.doesNotMatch(second.stderr(), /initial_account/);
    assert.equal((await readFile(join(dataDir, 'console-initial-password'), 'utf8')).trim(), password);
  } finally {
    assert.equal(await second.stop(), 0);
  }
  assert.doesNotMatch(first.stderr() + second.stderr(), /\n\s+at /, 'no stack trace');
});

test('runInWorker: the result or the error comes back; the event loop keeps running meanwhile', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-worker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const module = join(dir, 'busy.ts');
  await writeFile(module, `export function run(input: { spinMs: number; fail?: boolean }) {
  if (input.fail) { const e = new Error('bad upload: line 3'); e.name = 'ServiceError'; throw e; }
  const end = Date.now() + input.spinMs;
  let n = 0;
  while (Date.now() < end) n++;
  return { spun: n > 0 };
}
`);
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 5);
  try {
    const result = await runInWorker<{ spinMs: number }, { spun: boolean }>(module, { spinMs: 300 });
    assert.deepEqual(result, { spun: true });
    assert.ok(ticks > 0, 'timers fired while the worker was busy');
  } finally {
    clearInterval(timer);
  }
  await assert.rejects(runInWorker(module, { spinMs: 0, fail: true }), (err: Error) => err.name === 'ServiceError' && err.message === 'bad upload: line 3');
  await assert.rejects(runInWorker(module, { spinMs: 5000 }, { timeoutMs: 200 }), /did not finish within 200 ms/);
  await assert.rejects(runInWorker(join(dir, 'missing.ts'), {}), /Cannot find module|ERR_MODULE_NOT_FOUND|missing\.ts/);
});
