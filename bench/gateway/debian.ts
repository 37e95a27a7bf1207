// The bench's Debian neighbours: Postfix (the peer, smtp-source, smtp-sink) and Knot (the DNS
// server of the auth-on set). On a fresh machine they are installed here, as .ci/run installs
// them for the tests, so `npm run bench` needs nothing but root and the package mirror.
import { execFileSync } from 'node:child_process';

function installed(pkg: string): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('install ok installed');
  } catch {
    return false;
  }
}

/** Installs whichever of `packages` is missing; returns the names it installed. */
export function ensureDebianPackages(packages: string[], log: (line: string) => void): string[] {
  const missing = packages.filter((p) => !installed(p));
  if (missing.length === 0) return [];
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  // postfix asks which mail setup to configure; the bench writes its own private configuration.
  execFileSync('debconf-set-selections', [], { input: 'postfix postfix/main_mailer_type select No configuration\n', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  return missing;
}
