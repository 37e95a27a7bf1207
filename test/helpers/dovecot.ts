// A real LMTP server (RFC 2033): Dovecot's lmtp service with its own config, run directory and
// Maildirs in a temporary directory, listening on a loopback port. Mailboxes that exist are
// listed in a passwd-file, so an unknown recipient is refused per recipient (550 5.1.1).
// Needs root (Dovecot's master drops to the `dovecot` user) and the Debian package dovecot-lmtpd.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort, waitForPortClosed } from './postfix.ts';

const run = promisify(execFile);
const DOVECOT = '/usr/sbin/dovecot';

export function dovecotUnavailable(): string | null {
  if (!existsSync(DOVECOT) || !existsSync('/usr/lib/dovecot/lmtp')) return 'dovecot-lmtpd is not installed (Debian package dovecot-lmtpd)';
  if (userInfo().uid !== 0) return 'a private Dovecot instance needs root';
  return null;
}

export interface DovecotInstance {
  port: number;
  dir: string;
  /** Full messages delivered to `address`'s INBOX. */
  messages(address: string): Promise<string[]>;
  destroy(): Promise<void>;
}

export async function startDovecotLmtp(mailboxes: string[]): Promise<DovecotInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-dovecot-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const mail = join(dir, 'mail');
  await mkdir(mail);
  await run('chown', ['dovecot', mail]);
  await writeFile(join(dir, 'users'), mailboxes.map((m) => `${m}::::::`).join('\n') + '\n');
  const conf = join(dir, 'dovecot.conf');
  await writeFile(conf, `base_dir = ${join(dir, 'run')}
state_dir = ${join(dir, 'state')}
log_path = ${join(dir, 'dovecot.log')}
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:${mail}/%d/%n
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = passwd-file
  args = username_format=%u ${join(dir, 'users')}
  default_fields = uid=dovecot gid=dovecot home=${mail}/%d/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${port}
  }
}
`);
  // Dovecot daemonizes and its master keeps inherited pipes open, so start it without any.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(DOVECOT, ['-c', conf], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dovecot exited with ${code}; see ${join(dir, 'dovecot.log')}`))));
  });
  await waitForPort(port);
  return {
    port, dir,
    async messages(address: string) {
      const [local, domain] = address.split('@');
      const box = join(mail, domain, local, 'new');
      const names = await readdir(box).catch(() => [] as string[]);
      return Promise.all(names.sort().map((n) => readFile(join(box, n), 'utf8')));
    },
    async destroy() {
      await run(DOVECOT, ['-c', conf, 'stop']).catch(() => {});
      await waitForPortClosed(port).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
