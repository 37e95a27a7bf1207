// A real Postfix as the downstream MTA: its own config directory, queue and mailboxes in a
// temporary directory, SMTP on a loopback port, virtual(8) delivery to Maildirs. Nothing of the
// system's Postfix is used or changed. Needs root (Postfix's master runs as root and drops to
// mail_owner) and the Debian package `postfix`.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { freePort, waitForPort, waitForPortClosed } from './loopback.ts';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'node:net';

const run = promisify(execFile);
const POSTFIX = '/usr/sbin/postfix';

/** Runs `postfix ARGS` in its own process group, the whole group killed after timeoutMs. */
function runBounded(args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolveRun) => {
    const child = spawn(POSTFIX, args, { stdio: 'ignore', detached: true });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      resolveRun();
    }, timeoutMs);
    const done = () => { clearTimeout(timer); resolveRun(); };
    child.once('exit', done);
    child.once('error', done);
  });
}

/** True when an SMTP client connecting to the port is greeted with 220 within timeoutMs. */
function greets(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolveGreeting) => {
    const socket = connect(port, '127.0.0.1');
    let seen = '';
    const finish = (ok: boolean) => { clearTimeout(timer); socket.destroy(); resolveGreeting(ok); };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (/^220[ -]/m.test(seen)) { socket.end('QUIT\r\n'); finish(true); }
    });
    socket.on('error', () => finish(false));
  });
}

/** A reason to skip, or null when Postfix can run here. */
export function postfixUnavailable(): string | null {
  if (!existsSync(POSTFIX)) return 'postfix is not installed (Debian package postfix)';
  if (userInfo().uid !== 0) return 'a private Postfix instance needs root';
  return null;
}

export { freePort, waitForPort, waitForPortClosed };

export interface PostfixOptions {
  /** Domains delivered locally; `mailboxes` lists the addresses that exist, others get 550 5.1.1. */
  domains: string[];
  mailboxes: string[];
  /** PEM pair for STARTTLS; absent = no TLS offered. */
  tls?: { certFile: string; keyFile: string };
  /** More main.cf lines, written last (a later line overrides an earlier one of the same name). */
  extraMain?: string[];
}

export interface PostfixInstance {
  port: number;
  dir: string;
  /** Full messages in the mailbox of `address` (new/ of its Maildir). */
  messages(address: string): Promise<string[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SMTP connections Postfix's smtpd has accepted so far (from its log). */
  connectionCount(): Promise<number>;
  /** Replaces the RCPT access table (`address 450 4.2.0 text` lines) and reloads Postfix. */
  setRecipientAccess(lines: string[]): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPostfix(options: PostfixOptions): Promise<PostfixInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-postfix-'));
  await chmod(dir, 0o755); // virtual(8) runs as the mailbox owner and must reach mail/
  const port = await freePort();
  const mail = join(dir, 'mail');
  await mkdir(mail, { recursive: true });
  const { stdout: ids } = await run('id', ['-u', 'postfix']).catch(() => ({ stdout: '' }));
  const uid = Number(ids.trim()) || 65534;
  await run('chown', [`${uid}`, mail]).catch(() => {});
  const vmailbox = options.mailboxes.map((a) => `${a} ${a}/`).join('\n');
  await writeFile(join(dir, 'vmailbox'), `${vmailbox}\n`);
  await writeFile(join(dir, 'access'), '\n');
  const main = [
    ...postfixMainBase(dir, 'downstream.test'),
    'mynetworks = 127.0.0.0/8',
    `virtual_mailbox_domains = ${options.domains.join(', ')}`,
    `virtual_mailbox_base = ${mail}`,
    `virtual_mailbox_maps = texthash:${join(dir, 'vmailbox')}`,
    `virtual_uid_maps = static:${uid}`,
    `virtual_gid_maps = static:${uid}`,
    'virtual_minimum_uid = 1',
    // Unknown mailboxes are refused during RCPT (550 5.1.1), like a real mailbox server would.
    'smtpd_reject_unlisted_recipient = yes',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    // Lets a test refuse chosen recipients temporarily (450) or permanently (5xx) at RCPT.
    `smtpd_recipient_restrictions = check_recipient_access texthash:${join(dir, 'access')}`,
    'default_transport = error:outbound mail is disabled in this test instance',
    'relay_transport = error:outbound mail is disabled in this test instance',
    // start-fg (below) logs through stdout: there is no syslog in a container or CI runner.
    'maillog_file = /dev/stdout',
    'smtputf8_enable = no',
    'biff = no',
    'append_dot_mydomain = no',
    ...(options.tls ? [
      `smtpd_tls_cert_file = ${options.tls.certFile}`, `smtpd_tls_key_file = ${options.tls.keyFile}`, 'smtpd_tls_security_level = may',
      'smtpd_tls_received_header = yes',
    ] : []),
    ...(options.extraMain ?? []),
  ];
  await writeFile(join(dir, 'main.cf'), `${withoutOverrides(main).join('\n')}\n`);
  const services = postfixServices(port, ['virtual unix - n n - - virtual']);
  await writeFile(join(dir, 'master.cf'), `${services.join('\n')}\n`);
  let master: ChildProcess | null = null;
  const instance: PostfixInstance = {
    port, dir,
    async messages(address: string) {
      const box = join(mail, address, 'new');
      const names = await readdir(box).catch(() => [] as string[]);
      return Promise.all(names.sort().map((n) => readFile(join(box, n), 'utf8')));
    },
    async start() {
      // `postfix start` would detach and its master would die silently without syslog;
      // `start-fg` keeps master as our child with the log on stdout (Postfix >= 3.3). Its own
      // process group, so a master that does not stop can be killed with all its daemons.
      // A master once listened but never started smtpd (no greeting, no log line): the start
      // counts only when a client is greeted, and is tried once more after killing the group.
      for (let attempt = 1; ; attempt++) {
        const log = openSync(join(dir, 'maillog'), 'a');
        master = spawn(POSTFIX, ['-c', dir, 'start-fg'], { stdio: ['ignore', log, log], detached: true });
        closeSync(log);
        await waitForPort(port);
        if (await greets(port, 15_000)) return;
        if (attempt === 2) throw new Error(`private Postfix on port ${port} accepts connections but never greets`);
        await instance.stop();
      }
    },
    async stop() {
      if (!master) return;
      const child = master;
      master = null;
      const exited = new Promise((r) => child.once('exit', r));
      const gone = () => child.exitCode !== null || child.signalCode !== null;
      // `postfix stop` was once seen hanging in its `master -t` check: bounded, in its own group.
      await runBounded(['-c', dir, 'stop'], 15_000);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (!gone()) {
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      }
      await waitForPortClosed(port);
    },
    async connectionCount() {
      const log = await readFile(join(dir, 'maillog'), 'utf8').catch(() => '');
      return (log.match(/postfix\/smtpd\[\d+\]: connect from /g) ?? []).length;
    },
    async setRecipientAccess(lines: string[]) {
      await writeFile(join(dir, 'access'), `${lines.join('\n')}\n`);
      await run(POSTFIX, ['-c', dir, 'reload']);
      await new Promise((r) => setTimeout(r, 500)); // smtpd processes pick the table up as they restart
    },
    async destroy() {
      await instance.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await mkdir(join(dir, 'queue'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  await run('chown', ['postfix:postfix', join(dir, 'data')]);
  await run(POSTFIX, ['-c', dir, 'set-permissions']).catch(() => {}); // creates the queue's subdirectories
  await instance.start();
  return instance;
}

/**
 * main.cf lines with each parameter once: a later line replaces an earlier one of the same name in
 * its place. Every Postfix daemon warns about an overridden entry when it reads main.cf, through
 * postlogd's socket; at start-up a dozen such warnings could fill that socket's queue before
 * postlogd read it, and postlogd, logging a warning of its own into its full socket, blocked for
 * good, and with it every smtpd (seen once: a test waited its whole timeout on a silent Postfix).
 */
export function withoutOverrides(lines: string[]): string[] {
  const at = new Map<string, number>();
  const out: string[] = [];
  for (const line of lines) {
    const name = /^\s*([A-Za-z0-9_]+)\s*=/.exec(line)?.[1];
    const earlier = name === undefined ? undefined : at.get(name);
    if (earlier !== undefined) { out[earlier] = line; continue; }
    if (name !== undefined) at.set(name, out.length);
    out.push(line);
  }
  return out;
}

/**
 * master.cf for a private instance: smtpd on the loopback port, the daemons every instance needs,
 * and the delivery services the caller adds (virtual for the tests, smtp for the benchmark).
 */
export function postfixServices(port: number, delivery: string[]): string[] {
  return [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'pickup fifo n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'tlsmgr unix - - n 1000? 1 tlsmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
    ...delivery,
  ];
}

/** main.cf lines every private loopback instance needs: its own queue and data, IPv4 loopback only. */
export function postfixMainBase(dir: string, hostname: string): string[] {
  return [
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    'mail_owner = postfix',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    `myhostname = ${hostname}`,
    'mydestination =',
  ];
}
