// Issue 16: every command finds the store the same way (flag, environment, bootstrap file,
// default), never creates one except serve and init, and each mistake an administrator makes in
// the first hour is one line on stderr with exit code 2. Child processes, as a user runs them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxwardBin } from '../helpers/commands.ts';

let root = '';
before(() => { root = mkdtempSync(join(tmpdir(), 'mxward-store-')); });
after(() => { rmSync(root, { recursive: true, force: true }); });

interface Result { code: number | null; stdout: string; stderr: string }

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MXWARD_')) env[k] = v;
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, [mxwardBin, ...args], { cwd: options.cwd ?? root, env: { ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', rejectRun);
    child.on('close', (code) => { clearTimeout(timer); resolveRun({ code, stdout, stderr }); });
  });
}

/** Exit 2, exactly one line on stderr matching `pattern`, no stack frame, nothing on stdout. */
function oneLine(r: Result, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at |ExperimentalWarning/);
}

function dir(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

test('store resolution: flag, then environment, then the bootstrap file, then ./.mxward', async () => {
  const base = dir('resolution');
  const stores = { flag: join(base, 'flag'), env: join(base, 'env'), file: join(base, 'file'), def: join(base, '.mxward') };
  const config = join(base, 'mxward.yaml');
  writeFileSync(config, `dataDir: ${stores.file}\n`);
  // One init per place, each with the domain that names it.
  const places: Array<[string, string[], Record<string, string>]> = [
    ['flag.test', ['--data-dir', stores.flag], {}],
    ['env.test', [], { MXWARD_DATA_DIR: stores.env }],
    ['file.test', ['--config', config], {}],
    ['default.test', [], {}],
  ];
  for (const [domain, args, env] of places) {
    assert.equal((await cli(['init', ...args], { cwd: base, env })).code, 0);
    assert.equal((await cli(['domain', 'add', domain, ...args], { cwd: base, env })).code, 0);
  }
  // [flag args, environment, the domain the command must see]
  const table: Array<[string[], Record<string, string>, string]> = [
    [['--data-dir', stores.flag, '--config', config], { MXWARD_DATA_DIR: stores.env, MXWARD_CONFIG: config }, 'flag.test'],
    [['--config', config], { MXWARD_DATA_DIR: stores.env }, 'env.test'],
    [[], { MXWARD_DATA_DIR: stores.env, MXWARD_CONFIG: config }, 'env.test'],
    [['--config', config], {}, 'file.test'],
    [[], { MXWARD_CONFIG: config }, 'file.test'],
    [[], {}, 'default.test'],
  ];
  for (const [args, env, expected] of table) {
    const r = await cli(['domain', 'list', '--json', ...args], { cwd: base, env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).map((d: { domain: string }) => d.domain), [expected], `${args.join(' ')} ${JSON.stringify(env)}`);
  }
});

test('an admin command never creates a store: it names the path it looked at, exit 2', async () => {
  const elsewhere = dir('elsewhere');
  for (const args of [['domain', 'add', 'contoso.test'], ['org', 'get'], ['trace'], ['user', 'list'], ['connector', 'list'], ['queue', 'list'], ['quarantine', 'list'], ['policy', 'export']]) {
    const r = await cli(args, { cwd: elsewhere });
    oneLine(r, new RegExp(`no mxward store at ${join(elsewhere, '.mxward', 'mxward.db').replace(/[.]/g, '\\.')} \\(data directory the default \\./\\.mxward of the current directory\\);.*mxward init`));
  }
  assert.equal(existsSync(join(elsewhere, '.mxward')), false, 'nothing was created');
  const viaFlag = await cli(['domain', 'list', '--data-dir', join(elsewhere, 'nope')]);
  oneLine(viaFlag, /no mxward store at .*nope\/mxward\.db \(data directory from --data-dir\)/);
  const init = await cli(['init'], { cwd: elsewhere });
  assert.equal(init.code, 0, init.stderr);
  assert.equal(init.stdout, `created store: ${join(elsewhere, '.mxward', 'mxward.db')}\n`);
  assert.equal((await cli(['init'], { cwd: elsewhere })).stdout, `store already exists: ${join(elsewhere, '.mxward', 'mxward.db')}\n`);
  assert.equal((await cli(['domain', 'list'], { cwd: elsewhere })).code, 0);
});

test('a data directory that is a file: serve, init and admin commands say so, exit 2', async () => {
  const base = dir('file-as-dir');
  const file = join(base, 'data');
  writeFileSync(file, 'not a directory');
  for (const args of [['serve', '--data-dir', file, '--listen', '127.0.0.1:0'], ['init', '--data-dir', file], ['domain', 'list', '--data-dir', file]]) {
    oneLine(await cli(args), new RegExp(`data directory ${file.replace(/[.]/g, '\\.')} \\(from --data-dir\\) is a file, not a directory; point --data-dir`));
  }
});

test('report of a file that does not exist: one line, exit 2, no empty report', async () => {
  const r = await cli(['report', join(root, 'missing.csv'), '--accepted-domain', 'contoso.test']);
  oneLine(r, /missing\.csv: no such file or directory/);
  assert.equal(r.stdout, '');
});

test('YAML typos: the line of the key itself and a did-you-mean from the schema', async () => {
  const base = dir('yaml');
  const config = join(base, 'mxward.yaml');
  writeFileSync(config, 'hostname: mx.test\nlistners:\n  inbound: { host: 127.0.0.1, port: 2525 }\nlimits:\n  maxRecipents: 5\nlogLevel: info\n');
  const r = await cli(['serve', '--config', config]);
  oneLine(r, /mxward\.yaml: line 2: listners: unknown key \(did you mean listeners\?\); line 5: limits\.maxRecipents: unknown key \(did you mean maxRecipients\?\)$/);
  writeFileSync(config, 'hostname: mx.test\nzzzz: 1\n');
  oneLine(await cli(['domain', 'list', '--config', config]), /line 2: zzzz: unknown key$/);
  writeFileSync(config, 'listeners:\n  inbound: { port: "twenty-five" }\n');
  oneLine(await cli(['serve', '--config', config]), /line 2: listeners\.inbound\.port: /);
});
