// `mxward serve` as an administrator runs it: a child process on embedded defaults plus a config
// file, a self-signed certificate on first start, STARTTLS offered, and a clean exit on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxwardBin, mxward } from '../helpers/commands.ts';
import { RawSession } from '../helpers/smtp-session.ts';

for (const workers of ['1', '2']) test(`serve --workers ${workers} starts, offers STARTTLS with a generated certificate, and stops cleanly on SIGTERM`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-serve-'));
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const config = join(dir, 'mxward.yaml');
    await writeFile(config, 'hostname: mx.serve.test\nlisteners:\n  submission: null\nlogLevel: warn\n');
    // Admin commands do not create a store (issue 16): init first, as an administrator would.
    assert.equal((await mxward(join(dir, 'data'), ['init'])).code, 0);
    assert.equal((await mxward(join(dir, 'data'), ['domain', 'add', 'contoso.test'])).code, 0);
    const serve = spawn(process.execPath, [mxwardBin, 'serve', '--workers', workers, '--config', config, '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = serve;
    let stderr = '';
    // Generous: two workers on a loaded 2-core machine have taken over 15 s to listen.
    let startTimer: NodeJS.Timeout | undefined;
    const port = await new Promise<number>((resolvePort, rejectPort) => {
      serve.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /inbound SMTP on 127\.0\.0\.1:(\d+)/.exec(stderr);
        if (m) resolvePort(Number(m[1]));
      });
      serve.on('exit', () => rejectPort(new Error(`serve exited early: ${stderr}`)));
      startTimer = setTimeout(() => rejectPort(new Error(`serve did not start: ${stderr}`)), 60_000);
    }).finally(() => clearTimeout(startTimer));
    const exited = new Promise<number | null>((r) => serve.on('exit', (code) => r(code)));

    const s = await RawSession.open(port);
    assert.match(await s.reply() ?? '', /^220 mx\.serve\.test /);
    assert.match(await s.command('EHLO client.test') ?? '', /250[- ]STARTTLS/);
    assert.match(await s.command('MAIL FROM:<ceo@contoso.test>') ?? '', /^250 /);
    assert.match(await s.command('RCPT TO:<alice@contoso.test>') ?? '', /^550 5\.7\.68 /, 'new installs enforce Reject Direct Send');
    s.close();

    const cert = await readFile(join(dir, 'data', 'tls', 'self-signed.crt'), 'utf8');
    assert.match(cert, /BEGIN CERTIFICATE/);
    assert.equal(((await stat(join(dir, 'data', 'tls', 'self-signed.key'))).mode & 0o077), 0, 'private key readable by the owner only');

    serve.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM received/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  } finally {
    // A failed assertion must not leave the gateway running (and the test runner waiting for it).
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve with a broken config file exits 2 with one line naming the file, line and field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-serve-'));
  try {
    const config = join(dir, 'broken.yaml');
    await writeFile(config, 'hostname: mx.test\nlimits:\n  maxRecipients: lots\n');
    const r = await mxward(join(dir, 'data'), ['serve', '--config', config]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /broken\.yaml: line 3: limits\.maxRecipients: /);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
