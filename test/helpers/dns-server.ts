// A real authoritative DNS server on loopback for authentication tests: Knot DNS (Debian package
// `knot`) serving one root zone ("." ) that the test writes. Serving the root means every name
// outside the test's records gets an authoritative NXDOMAIN, which is what DMARC Tree Walks and
// SPF void-lookup counting need; nothing ever reaches live DNS.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsResolver } from '../../src/auth/resolver.ts';

const KNOTD_CANDIDATES = ['/usr/sbin/knotd', '/usr/local/sbin/knotd'];
const KNOTC_CANDIDATES = ['/usr/sbin/knotc', '/usr/local/sbin/knotc'];

function findBinary(candidates: string[], name: string): string | null {
  for (const c of candidates) if (existsSync(c)) return c;
  const which = spawnSync('which', [name], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/** Why DNS tests cannot run here, or null when knotd is available. */
export function dnsServerUnavailable(): string | null {
  return findBinary(KNOTD_CANDIDATES, 'knotd') && findBinary(KNOTC_CANDIDATES, 'knotc') ? null : 'knotd (Debian package knot) is not installed';
}

/** Splits a TXT value into quoted character-strings of at most 255 bytes (RFC 1035 §3.3.14). */
export function txt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 250) parts.push(`"${value.slice(i, i + 250).replace(/"/g, '\\"')}"`);
  return parts.join(' ');
}

async function freePort(): Promise<number> {
  // A port free for TCP is then checked for UDP too, since knotd listens on both.
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolvePort(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolveFree) => {
      const sock = createSocket('udp4');
      sock.once('error', () => resolveFree(false));
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolveFree(true)));
    });
    if (udpFree) return port;
  }
}

export interface TestDnsServer {
  host: string;
  port: number;
  /** `127.0.0.1:PORT`, as the bootstrap `auth.dnsServers` takes it. */
  address: string;
  /** Replaces all records (zone-file lines relative to the root, e.g. `a.test. 60 TXT "x"`). */
  setRecords(lines: string[]): Promise<void>;
  close(): Promise<void>;
}

function zoneText(lines: string[], serial: number): string {
  return [
    '$TTL 60',
    `. 60 IN SOA ns.test. hostmaster.test. ${serial} 3600 600 86400 30`,
    '. 60 IN NS ns.test.',
    'ns.test. 60 IN A 127.0.0.1',
    `_serial.test. 0 IN TXT "${serial}"`,
    ...lines,
    '',
  ].join('\n');
}

export async function startDnsServer(initial: string[]): Promise<TestDnsServer> {
  const knotd = findBinary(KNOTD_CANDIDATES, 'knotd');
  const knotc = findBinary(KNOTC_CANDIDATES, 'knotc');
  if (!knotd || !knotc) throw new Error('knotd not installed');
  const dir = await mkdtemp(join(tmpdir(), 'mxward-dns-'));
  const port = await freePort();
  const socketPath = join(dir, 'knot.sock');
  let serial = 1;
  await writeFile(join(dir, 'root.zone'), zoneText(initial, serial));
  await writeFile(join(dir, 'knot.conf'), [
    'server:',
    `    rundir: "${dir}"`,
    `    listen: 127.0.0.1@${port}`,
    'log:',
    '  - target: stderr',
    '    any: warning',
    'control:',
    `    listen: "${socketPath}"`,
    'database:',
    `    storage: "${join(dir, 'db')}"`,
    'template:',
    '  - id: default',
    `    storage: "${dir}"`,
    '    zonefile-sync: -1',
    '    journal-content: none',
    'zone:',
    '  - domain: .',
    '    file: "root.zone"',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(knotd, ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += String(d); });

  // Ready when the SOA of the test zone comes back with the serial just written.
  const probe = new DnsResolver({ servers: [{ host: '127.0.0.1', port }], timeoutMs: 200, tries: 1, maxCacheEntries: 1, maxTtlSeconds: 0 });
  const waitForRecord = async (name: string, type: string, expect: (v: unknown) => boolean) => {
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`knotd exited: ${stderr.trim()}`);
      try {
        if (expect(await probe.resolve(name, type))) return;
      } catch {
        // not up yet
      }
      if (Date.now() - started > 10_000) throw new Error(`knotd did not serve ${name} ${type}: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitForRecord('ns.test', 'A', (v) => Array.isArray(v) && v.length > 0);

  return {
    host: '127.0.0.1', port, address: `127.0.0.1:${port}`,
    async setRecords(lines: string[]) {
      serial += 1;
      await writeFile(join(dir, 'root.zone'), zoneText(lines, serial));
      const reload = spawnSync(knotc, ['-s', socketPath, 'zone-reload', '.'], { encoding: 'utf8' });
      if (reload.status !== 0) throw new Error(`knotc zone-reload failed: ${reload.stderr || reload.stdout}`);
      // The reload is asynchronous: wait until the marker record carries the new serial.
      const marker = String(serial);
      await waitForRecord('_serial.test', 'TXT', (v) => JSON.stringify(v).includes(`"${marker}"`));
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Per-name behaviours (issue 19): a loopback DNS proxy in front of the Knot server that a test
// drives to make chosen names misbehave (delay, drop, SERVFAIL, truncation), so attacks on the
// query and time budgets can be reproduced. Everything else is forwarded to Knot unchanged.

export type DnsBehaviour =
  | { kind: 'servfail' }
  /** Never answered: the client times out. */
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  /** UDP answers come back empty with TC set (RFC 1035 §4.2.1); TCP answers normally. */
  | { kind: 'truncate' };

export interface BehavingDnsServer {
  host: string;
  port: number;
  address: string;
  /** `name` exactly, or `*.suffix` for every name below suffix; null clears it. */
  setBehaviour(name: string, behaviour: DnsBehaviour | null): void;
  /** Questions received for names matching `pattern` (same syntax as setBehaviour), UDP and TCP. */
  queriesFor(pattern: string): number;
  close(): Promise<void>;
}

function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const n = name.toLowerCase().replace(/\.$/, '');
  return p.startsWith('*.') ? n.endsWith(p.slice(1)) : n === p;
}

export async function startBehavingDns(upstream: TestDnsServer): Promise<BehavingDnsServer> {
  const dnsPacket = (await import('dns-packet')).default as typeof import('dns-packet');
  const { connect } = await import('node:net');
  const behaviours = new Map<string, DnsBehaviour>();
  const seen: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const behaviourFor = (name: string) => [...behaviours.entries()].find(([p]) => nameMatches(p, name))?.[1] ?? null;
  const later = (ms: number, fn: () => void) => { const t = setTimeout(() => { timers.delete(t); fn(); }, ms); timers.add(t); };

  const errorReply = (query: Buffer, truncated: boolean): Buffer => {
    const q = dnsPacket.decode(query);
    const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (truncated ? dnsPacket.TRUNCATED_RESPONSE : 2 /* SERVFAIL */);
    return dnsPacket.encode({ type: 'response', id: q.id, flags, questions: q.questions });
  };
  const askUpstreamUdp = (query: Buffer): Promise<Buffer> => new Promise((resolveAnswer, reject) => {
    const s = createSocket('udp4');
    s.once('message', (msg) => { s.close(); resolveAnswer(msg); });
    s.once('error', (e) => { s.close(); reject(e); });
    s.send(query, upstream.port, upstream.host);
  });
  const askUpstreamTcp = (query: Buffer): Promise<Buffer> => new Promise((resolveAnswer, reject) => {
    const c = connect(upstream.port, upstream.host);
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { c.end(); resolveAnswer(buf.subarray(2, 2 + buf.readUInt16BE(0))); }
    });
    c.once('error', reject);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(query.length);
    c.write(Buffer.concat([len, query]));
  });

  /** What to send back for one query, after its behaviour; null = no answer. */
  const answer = async (query: Buffer, overTcp: boolean): Promise<Buffer | null> => {
    let name = '';
    try { name = dnsPacket.decode(query).questions?.[0]?.name ?? ''; } catch { return null; }
    seen.push(name.toLowerCase());
    const b = behaviourFor(name);
    if (b?.kind === 'drop') return null;
    if (b?.kind === 'servfail') return errorReply(query, false);
    if (b?.kind === 'truncate' && !overTcp) return errorReply(query, true);
    if (b?.kind === 'delay') await new Promise<void>((r) => later(b.ms, r));
    return overTcp ? askUpstreamTcp(query) : askUpstreamUdp(query);
  };

  const port = await freePort();
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    answer(msg, false).then((reply) => { if (reply) udp.send(reply, rinfo.port, rinfo.address); }, () => {});
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
  const sockets = new Set<import('node:net').Socket>();
  const tcp = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const query = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + query.length);
        answer(query, true).then((reply) => {
          if (!reply || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([len, reply]));
        }, () => {});
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', r));

  return {
    host: '127.0.0.1', port, address: `127.0.0.1:${port}`,
    setBehaviour(name, behaviour) {
      if (behaviour) behaviours.set(name, behaviour);
      else behaviours.delete(name);
    },
    queriesFor(pattern) {
      return seen.filter((n) => nameMatches(pattern, n)).length;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
