// Seeds the trace with traffic a console would be asked about: with Reject Direct Send in report
// mode, thousands of transactions from many source addresses (127.0.0.0/8 is all this host, so
// every 127.x.y.z is a distinct client IP to the gateway): ordinary foreign mail, Direct Send of
// both kinds that enforce would refuse (the envelope in the accepted domain, and only the From:
// header in it), and mail through a partner connector. Each source keeps one SMTP session open
// and sends its share over it, as a real sending server would (nodemailer's pooled transport).
import nodemailer from 'nodemailer';
import { ACCEPTED_DOMAIN } from '../gateway/peer.ts';
import { RECIPIENT } from '../gateway/scenarios.ts';

interface SourceKind {
  kind: 'foreign' | 'direct-send' | 'header-from' | 'connector';
  /** Share of the seeded transactions. */
  share: number;
  /** The second octet of the sources' addresses, and how many sources of this kind. */
  net: number;
  sources: number;
  envelope: (i: number) => string;
  headerFrom: (i: number) => string;
}

const KINDS: SourceKind[] = [
  { kind: 'foreign', share: 0.5, net: 1, sources: 120, envelope: (i) => `news${i % 17}@sender${i % 40}.test`, headerFrom: (i) => `news${i % 17}@sender${i % 40}.test` },
  { kind: 'direct-send', share: 0.3, net: 2, sources: 150, envelope: (i) => `payroll${i % 9}@${ACCEPTED_DOMAIN}`, headerFrom: (i) => `payroll${i % 9}@${ACCEPTED_DOMAIN}` },
  { kind: 'header-from', share: 0.1, net: 3, sources: 40, envelope: (i) => `bounce${i}@mailer${i % 6}.test`, headerFrom: () => `ceo@${ACCEPTED_DOMAIN}` },
  // 127.0.5.x: inside gateway.ts's CONNECTOR_RANGE, so these match the branch-office connector.
  { kind: 'connector', share: 0.1, net: 0, sources: 10, envelope: (i) => `scanner${i % 3}@${ACCEPTED_DOMAIN}`, headerFrom: (i) => `scanner${i % 3}@${ACCEPTED_DOMAIN}` },
];

function sourceIp(k: SourceKind, s: number): string {
  return k.kind === 'connector' ? `127.0.5.${10 + s}` : `127.${k.net}.${Math.floor(s / 200)}.${10 + (s % 200)}`;
}

export interface SeedResult { sent: number; failed: number; failures: string[]; elapsedMs: number; sources: number }

/** One source's session: `count` messages over one pooled connection. */
async function sendFrom(port: number, ip: string, k: SourceKind, first: number, count: number, r: SeedResult): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port, secure: false, ignoreTLS: true, localAddress: ip, name: `mta.${ip.replaceAll('.', '-')}.bench.test`,
    pool: true, maxConnections: 1, maxMessages: Infinity, connectionTimeout: 30_000, socketTimeout: 60_000,
  });
  try {
    for (let i = first; i < first + count; i++) {
      try {
        await transport.sendMail({
          envelope: { from: k.envelope(i), to: [RECIPIENT] }, from: k.headerFrom(i), to: RECIPIENT,
          subject: `${k.kind} ${i}`, text: `Seeded ${k.kind} message ${i} from ${ip}.\n`,
        });
        r.sent += 1;
      } catch (err) {
        r.failed += 1;
        if (r.failures.length < 5) r.failures.push(`${ip}: ${(err as Error).message}`);
      }
    }
  } finally {
    transport.close();
  }
}

/** `total` transactions, `parallel` sources at a time; returns what was sent and what failed. */
export async function seedTrace(port: number, total: number, parallel = 16): Promise<SeedResult> {
  const r: SeedResult = { sent: 0, failed: 0, failures: [], elapsedMs: 0, sources: 0 };
  const jobs: Array<() => Promise<void>> = [];
  let n = 0;
  for (const k of KINDS) {
    const messages = Math.round(total * k.share);
    for (let s = 0; s < k.sources; s++) {
      const count = Math.floor(messages / k.sources) + (s < messages % k.sources ? 1 : 0);
      if (count === 0) continue;
      const first = n;
      n += count;
      jobs.push(() => sendFrom(port, sourceIp(k, s), k, first, count, r));
    }
  }
  r.sources = jobs.length;
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));
  r.elapsedMs = performance.now() - started;
  return r;
}

/** Source addresses seen in the seed, for the load client's IP filter. */
export function seededIps(): string[] {
  return KINDS.flatMap((k) => Array.from({ length: Math.min(k.sources, 20) }, (_, s) => sourceIp(k, s)));
}
