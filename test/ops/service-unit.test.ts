// Issue 16, packaging: the systemd unit passes `systemd-analyze verify` (with no warning: an
// unknown key only warns), keeps the options an administrator relies on, and leaves out the one
// that breaks V8; the Containerfile runs unprivileged with a data volume and a health check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { hasCommand, mxwardBin, repoRoot, run } from '../helpers/commands.ts';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';

const unit = readFileSync(join(repoRoot, 'contrib/systemd/mxward.service'), 'utf8');
const directives = (name: string) => unit.split('\n').filter((l) => l.startsWith(`${name}=`)).map((l) => l.slice(name.length + 1));

test('systemd-analyze verify accepts contrib/systemd/mxward.service without a warning', { skip: !hasCommand('systemd-analyze') && 'systemd-analyze not installed (Debian package systemd)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's program exists: point it at this checkout's launcher.
  const file = join(dir, 'mxward.service');
  writeFileSync(file, unit.replace('/usr/local/bin/mxward', mxwardBin));
  const r = await run('systemd-analyze', ['verify', '--man=no', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'systemd-analyze warned');
  // The same check fails on a typo, so the test can fail.
  writeFileSync(file, unit.replace('/usr/local/bin/mxward', mxwardBin).replace('ProtectSystem=', 'ProtectSystm='));
  assert.match((await run('systemd-analyze', ['verify', '--man=no', file])).stderr, /Unknown key 'ProtectSystm'/);
});

test('the unit runs unprivileged with only CAP_NET_BIND_SERVICE and without MemoryDenyWriteExecute', () => {
  assert.deepEqual(directives('User'), ['mxward']);
  assert.deepEqual(directives('AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(directives('CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(directives('NoNewPrivileges'), ['yes']);
  assert.deepEqual(directives('ProtectSystem'), ['strict']);
  assert.deepEqual(directives('StateDirectory'), ['mxward']);
  assert.equal(directives('MemoryDenyWriteExecute').length, 0, 'V8 needs writable then executable pages');
  assert.deepEqual(directives('Environment'), ['MXWARD_CONFIG=/etc/mxward/mxward.yaml']);
});

test('the shipped bootstrap files are valid and keep the admin port where the unit and image expect it', () => {
  const production = bootstrapSchema.parse(parse(readFileSync(join(repoRoot, 'contrib/mxward.yaml'), 'utf8')));
  assert.equal(production.dataDir, '/var/lib/mxward', 'StateDirectory=mxward');
  assert.equal(production.listeners.inbound.port, 25);
  assert.deepEqual(production.admin, { host: '127.0.0.1', port: 9725 });
  const container = bootstrapSchema.parse(parse(readFileSync(join(repoRoot, 'contrib/container/mxward.yaml'), 'utf8')));
  assert.equal(container.dataDir, '/var/lib/mxward');
  assert.ok(container.listeners.inbound.port > 1024, 'an unprivileged container process cannot bind below 1024 everywhere');
  assert.equal(container.admin?.port, 9725);
});

test('Containerfile: non-root user, data volume, health check on /readyz', () => {
  const text = readFileSync(join(repoRoot, 'Containerfile'), 'utf8');
  const users = [...text.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(users, ['mxward']);
  assert.match(text, /^VOLUME \["\/var\/lib\/mxward"\]/m);
  assert.match(text, /^HEALTHCHECK .*\n.*127\.0\.0\.1:9725\/readyz/m);
  assert.match(text, /^COPY contrib\/container\/mxward\.yaml \/etc\/mxward\/mxward\.yaml$/m);
  assert.match(text, /^ENV MXWARD_CONFIG=\/etc\/mxward\/mxward\.yaml/m);
});
