// Haraka as the second peer, installed from npm into the bench's temporary directory at run
// time (never into the project): a small plugin with the same Direct Send policy, recipients in
// the accepted domain only (rcpt_to.in_host_list), relaying with queue/smtp_forward to the sink.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep, waitForPort } from './net.ts';
import type { Peer, PeerOptions, ServerCounts } from './peer.ts';
import { ACCEPTED_DOMAIN, DIRECT_SEND_TEXT, LISTED_IP } from './peer.ts';

const run = promisify(execFile);
export const HARAKA_SPEC = 'Haraka@3';

/** npm install into `prefix`; returns the path of Haraka's launcher. */
export async function installHaraka(prefix: string): Promise<string> {
  const bin = join(prefix, 'node_modules', 'Haraka', 'bin', 'haraka');
  if (existsSync(bin)) return bin;
  await mkdir(prefix, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await run(npm, ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', HARAKA_SPEC], { timeout: 300_000 });
  if (!existsSync(bin)) throw new Error(`npm install ${HARAKA_SPEC} did not produce ${bin}`);
  return bin;
}

export async function harakaVersion(prefix: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(prefix, 'node_modules', 'Haraka', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

// The plugin: the policy at MAIL FROM, and counters written to counts.json for the bench's
// cross-check (a timer, so nothing is written per message).
const PLUGIN = `'use strict';
const fs = require('node:fs');
const path = require('node:path');
const DSN = require('haraka-dsn');
const counts = { accepted: 0, rejected: 0 };
let dirty = false;

exports.register = function () {
  this.accepted = this.config.get('host_list', 'list').map((d) => d.toLowerCase());
  this.listed = this.config.get('directsend.listed', 'list');
  const file = path.join(process.env.HARAKA || '.', 'counts.json');
  setInterval(() => {
    if (!dirty) return;
    dirty = false;
    fs.writeFileSync(file, JSON.stringify(counts));
  }, 100).unref();
};

exports.hook_mail = function (next, connection, params) {
  const host = String((params[0] && params[0].host) || '').toLowerCase();
  if (this.accepted.includes(host) && !this.listed.includes(connection.remote.ip)) {
    counts.rejected += 1;
    dirty = true;
    return next(DENY, DSN.create(550, ${JSON.stringify(DIRECT_SEND_TEXT)}, 7, 68));
  }
  next();
};

exports.hook_queue_ok = function (next) {
  counts.accepted += 1;
  dirty = true;
  next();
};
`;

export interface HarakaOptions extends PeerOptions {
  /** Path of Haraka's launcher (installHaraka). */
  bin: string;
}

export async function startHaraka(options: HarakaOptions): Promise<Peer> {
  const { dir } = options;
  const port = await freePort();
  const config = join(dir, 'config');
  // Haraka's own defaults first (connection.ini and friends), then the bench's settings over them.
  await run(process.execPath, [options.bin, '-i', dir]);
  await mkdir(join(dir, 'plugins'), { recursive: true });
  const files: Record<string, string> = {
    'smtp.ini': `listen=127.0.0.1:${port}\ninactivity_timeout=300\n`,
    'me': 'haraka.bench.test',
    // One line per connection at notice, like Postfix's one line per event; info logs every command.
    'log.ini': '[main]\nlevel=notice\ntimestamps=false\nformat=default\n',
    'plugins': 'directsend\nrcpt_to.in_host_list\nqueue/smtp_forward\n',
    'host_list': `${ACCEPTED_DOMAIN}\n`,
    'directsend.listed': `${LISTED_IP}\n`,
    'smtp_forward.ini': `host=127.0.0.1\nport=${options.sinkPort}\nenable_tls=false\nenable_outbound=false\n`,
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(config, name), text);
  await writeFile(join(dir, 'plugins', 'directsend.js'), PLUGIN);

  const log = openSync(join(dir, 'haraka.log'), 'a');
  const child = spawn(process.execPath, [options.bin, '-c', dir], { stdio: ['ignore', log, log], cwd: dir });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await Promise.race([waitForPort(port), exited.then(() => { throw new Error(`haraka exited at start; see ${join(dir, 'haraka.log')}`); })]);
  return {
    name: 'haraka',
    port,
    pids: () => (child.pid && child.exitCode === null ? [child.pid] : []),
    async counts(): Promise<ServerCounts> {
      await sleep(250); // the plugin writes its counters every 100 ms
      const text = await readFile(join(dir, 'counts.json'), 'utf8').catch(() => '{"accepted":0,"rejected":0}');
      return JSON.parse(text) as ServerCounts;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}
