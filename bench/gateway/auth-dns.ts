// The DNS server of the honest-peer auth set: Knot on a loopback address at port 53, serving one
// root zone (as test/helpers/dns-server.ts does, so every other name gets an authoritative
// NXDOMAIN and nothing reaches live DNS). Port 53 because the peer's add-ons cannot be told a
// port: OpenDMARC and policyd-spf ask the servers of /etc/resolv.conf (glibc, dnspython), and a
// resolv.conf line names an address only. mxward is pointed at the very same server.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsResolver } from '../../src/auth/resolver.ts';
import { sleep } from './net.ts';

/**
 * Loopback addresses of its own (all of 127/8 reaches lo), so port 53 is free even where
 * 127.0.0.1:53 is taken; the first one free is used, so two bench runs at once do not collide.
 */
const CANDIDATE_HOSTS = Array.from({ length: 32 }, (_, i) => `127.0.0.${17 + i}`);

export interface PortFiftyThreeDns {
  host: string;
  /** `HOST:53`, as mxward's `auth.dnsServers` takes it. */
  address: string;
  /** knotd, for its CPU. */
  pid: number;
  close(): Promise<void>;
}

function zoneText(lines: string[]): string {
  return ['$TTL 60', '. 60 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 30', '. 60 IN NS ns.test.', 'ns.test. 60 IN A 127.0.0.1', ...lines, ''].join('\n');
}

async function portFree(host: string): Promise<boolean> {
  return new Promise((resolveFree) => {
    const s = createSocket('udp4');
    s.once('error', () => resolveFree(false));
    s.bind(53, host, () => s.close(() => resolveFree(true)));
  });
}

export async function startPortFiftyThreeDns(zone: string[]): Promise<PortFiftyThreeDns> {
  const knotd = ['/usr/sbin/knotd', '/usr/local/sbin/knotd'].find((p) => existsSync(p));
  if (!knotd) throw new Error('knotd is needed (Debian package knot)');
  let host: string | undefined;
  for (const candidate of CANDIDATE_HOSTS) if (await portFree(candidate)) { host = candidate; break; }
  if (!host) throw new Error(`port 53 is in use on ${CANDIDATE_HOSTS[0]} to ${CANDIDATE_HOSTS.at(-1)}`);
  const dir = await mkdtemp(join(tmpdir(), 'mxward-bench-dns-'));
  await writeFile(join(dir, 'root.zone'), zoneText(zone));
  await writeFile(join(dir, 'knot.conf'), [
    'server:', `    rundir: "${dir}"`, `    listen: ${host}@53`,
    'log:', '  - target: stderr', '    any: warning',
    'database:', `    storage: "${join(dir, 'db')}"`,
    'template:', '  - id: default', `    storage: "${dir}"`, '    zonefile-sync: -1', '    journal-content: none',
    'zone:', '  - domain: .', '    file: "root.zone"', '',
  ].join('\n'));
  const child: ChildProcess = spawn(knotd, ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += String(d); });
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const probe = new DnsResolver({ servers: [{ host, port: 53 }], timeoutMs: 200, tries: 1, maxCacheEntries: 1, maxTtlSeconds: 0 });
  const until = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) { await close(); throw new Error(`knotd exited: ${stderr.trim()}`); }
    const up = await probe.resolve('ns.test', 'A').then(() => true, () => false);
    if (up) break;
    if (Date.now() > until) { await close(); throw new Error(`knotd did not answer on ${host}:53: ${stderr.trim()}`); }
    await sleep(50);
  }
  return { host, address: `${host}:53`, pid: child.pid!, close };
}
