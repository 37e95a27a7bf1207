// Issue 16, the npm package: `npm pack` holds only what runs (compiled dist/, the launcher,
// examples, contrib, two documents), and the tarball installed into an empty directory runs
// `mxward --help` and a short `serve` that answers SMTP and stops cleanly on SIGTERM.
// Installed offline from npm's cache (the checkout's own install filled it) with the checkout's
// locked versions: the test talks to no registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, run } from '../helpers/commands.ts';
import { waitFor } from '../helpers/loopback.ts';

/** Like the shared run(), in a given directory (npm pack packs the directory it runs in). */
function runIn(cwd: string, cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', rejectRun);
    child.on('close', (code) => { clearTimeout(timer); resolveRun({ code, stdout, stderr }); });
  });
}

/**
 * An empty project that depends on the tarball, with a lock file built from the checkout's (its
 * production entries: the versions this checkout tested), so `npm ci --offline` installs from
 * npm's cache without asking the registry anything (tests stay on loopback).
 */
function writeInstallLock(prefix: string, tarball: string): void {
  mkdirSync(prefix, { recursive: true });
  const repoLock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const root = repoLock.packages[''];
  const spec = `file:${tarball}`;
  const packages: Record<string, Record<string, unknown>> = {
    '': { name: 'mxward-install-test', dependencies: { mxward: spec } },
    'node_modules/mxward': {
      version: root.version, resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      license: root.license, dependencies: root.dependencies, optionalDependencies: root.optionalDependencies,
      engines: root.engines, bin: root.bin,
    },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path !== '' && !entry.dev && !entry.link) packages[path] = entry;
  }
  writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'mxward-install-test', private: true, dependencies: { mxward: spec } }));
  writeFileSync(join(prefix, 'package-lock.json'), JSON.stringify({ name: 'mxward-install-test', lockfileVersion: 3, requires: true, packages }));
}

function banner(port: number): Promise<string> {
  return new Promise((resolveBanner, rejectBanner) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(20_000, () => { socket.destroy(); rejectBanner(new Error('no banner')); });
    socket.once('data', (d: Buffer) => { socket.end('QUIT\r\n'); resolveBanner(d.toString()); });
    socket.once('error', rejectBanner);
  });
}

test('npm pack: the tarball installs into an empty directory and runs', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const packed = await runIn(repoRoot, 'npm', ['pack', '--json', '--pack-destination', dir]);
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info.files.map((f) => f.path);
  for (const needed of ['bin/mxward.js', 'bin/node-runtime.js', 'dist/cli/main.js', 'dist/app.js', 'package.json', 'README.md', 'LICENSE', 'contrib/systemd/mxward.service', 'docs/configuration.md']) {
    assert.ok(files.includes(needed), `${needed} missing from the package`);
  }
  const stray = files.filter((f) => /^(src|test|bench|\.ci)\/|\.ts$|\.png$|^tsconfig/.test(f) && !f.endsWith('.d.ts'));
  assert.deepEqual(stray, [], 'the package carries files that do not run');
  assert.deepEqual(readdirSync(repoRoot).filter((n) => n === 'dist'), [], 'npm pack left dist/ in the checkout');

  const prefix = join(dir, 'install');
  writeInstallLock(prefix, join(dir, info.filename));
  const installed = await runIn(prefix, 'npm', ['ci', '--offline', '--omit=optional', '--no-audit', '--no-fund']);
  assert.equal(installed.code, 0, installed.stderr);
  const bin = join(prefix, 'node_modules', '.bin', 'mxward');

  const help = await run(bin, ['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: mxward COMMAND/);
  assert.equal(help.stderr, '');

  const config = join(dir, 'mxward.yaml');
  writeFileSync(config, 'hostname: mx.pack.test\nlisteners:\n  inbound: { host: 127.0.0.1, port: 0 }\n  submission: null\nadmin: { port: 0 }\nlogFormat: json\n');
  const child = spawn(bin, ['serve', '--config', config, '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = await waitFor('serve ready line', async () => stderr.split('\n').map((l) => { try { return JSON.parse(l) as Record<string, string>; } catch { return null; } })
    .find((l) => l?.event === 'ready') ?? null, 120_000);
  assert.match(await banner(Number(ready.inbound.split(':')[1])), /^220 mx\.pack\.test /);
  const readyz = await fetch(`http://${ready.admin}/readyz`);
  assert.equal(readyz.status, 200, await readyz.text());
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const line of stderr.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
});
