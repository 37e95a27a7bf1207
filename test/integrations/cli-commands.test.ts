// `mxward milter --policy-listen` and `mxward policyd` as an administrator runs them: a real
// process on loopback ports, answering a real request, stopping cleanly on SIGTERM; bad flags are
// one-line usage errors (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward, mxwardBin } from '../helpers/commands.ts';
import { freePort, waitFor } from '../helpers/loopback.ts';

function ask(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect(port, '127.0.0.1', () => s.write(request));
    s.setEncoding('utf8');
    s.on('data', (d: string) => { got += d; if (got.endsWith('\n\n')) { s.destroy(); resolve(got); } });
    s.on('error', reject);
  });
}

test('mxward milter --policy-listen serves the policy service, applies `mxward org set`, and stops on SIGTERM', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-cli-milter-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  assert.equal((await mxward(dataDir, ['init'])).code, 0);
  assert.equal((await mxward(dataDir, ['domain', 'add', 'example.test'])).code, 0);
  const [milterPort, policyPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [mxwardBin, 'milter', '--listen', `127.0.0.1:${milterPort}`, '--policy-listen', `127.0.0.1:${policyPort}`, '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  await waitFor('listening', async () => stderr.includes('listening on'));
  assert.match(stderr, new RegExp(`listening on 127\\.0\\.0\\.1:${milterPort}, policy service on 127\\.0\\.0\\.1:${policyPort}`));

  const spoof = 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.51.100.1\nsender=ceo@example.test\nrecipient=a@example.test\n\n';
  assert.match(await ask(policyPort, spoof), /^action=550 5\.7\.68 /);
  assert.equal((await mxward(dataDir, ['org', 'set', '--reject-direct-send', 'report'])).code, 0);
  await waitFor('the change reaches the running process', async () => /^action=PREPEND X-Mxward-DirectSend/.test(await ask(policyPort, spoof)));

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('bad flags are usage errors with exit 2 and one line', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-cli-bad-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  for (const args of [['policyd', '--listen', 'nonsense'], ['milter', '--bogus'], ['policyd', 'extra'], ['policyd', '--policy-listen', '127.0.0.1:1']]) {
    const r = await mxward(dataDir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^mxward ${args[0]}: `));
  }
});
