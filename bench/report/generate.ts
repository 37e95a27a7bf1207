// Writes a synthetic Get-MessageTraceV2 export (Windows PowerShell Export-Csv style: #TYPE line,
// every field quoted) that is hard in the ways real exports are: tens of thousands of distinct
// Direct Send sources (a botnet's spread), tens of thousands of recipients, subjects that are
// nearly all distinct and often hold commas and escaped quotes (`""`), and four date formats in
// the same file (ISO with PowerShell's 7-digit fraction, ISO without, ISO with a space, and the
// en-US locale form). The mix: mostly ordinary external mail, some internal and outbound, a
// little connector traffic, printers and spammers. Deterministic (seeded), so runs compare like
// with like, and streamed to disk in 1 MiB pieces, so 20,000,000 rows need no more memory than 10.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const BENCH_ACCEPTED_DOMAIN = 'contoso.com';
export const BENCH_CONNECTOR_CIDR = '192.0.2.16/28';
/** Distinct Direct Send spammer IPs to draw from (198.18.0.0/15): tens of thousands show up. */
export const BENCH_SPAMMER_IPS = 80_000;
/** The first row's day is the 13th, so en-US dates never read both ways (issue 12) in the file. */
const START_MS = Date.UTC(2026, 10, 13);
const SPAN_MS = 10 * 86_400_000;

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** The four timestamp shapes Export-Csv and its readers produce, all accepted by the importers. */
function timestamp(ms: number, form: number): string {
  const d = new Date(ms);
  const date = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  if (form === 0) return `${date}T${time}.${String(d.getUTCMilliseconds()).padStart(3, '0')}0000Z`;
  if (form === 1) return `${date}T${time}Z`;
  if (form === 2) return `${date} ${time}`;
  const h = d.getUTCHours() % 12 || 12;
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}

const quote = (s: string): string => (s.includes('"') ? `"${s.replace(/"/g, '""')}"` : `"${s}"`);

interface Pools { users: string[]; domains: string[]; external: string[]; printers: string[]; spammers: string[] }

function pools(printers: number): Pools {
  return {
    users: Array.from({ length: 40_000 }, (_, i) => `user${i}@contoso.com`),
    domains: Array.from({ length: 5_000 }, (_, i) => `sender${i}.example`),
    external: Array.from({ length: 200_000 }, (_, i) => `${100 + (i % 100)}.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`),
    printers: Array.from({ length: printers }, (_, i) => `203.0.${113 + (i >> 8)}.${i & 255}`),
    spammers: Array.from({ length: BENCH_SPAMMER_IPS }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`),
  };
}

/** One data line (without the line break). */
function line(i: number, ms: number, rand: () => number, p: Pools): string {
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)];
  const n = Math.floor(rand() * 1_000_000);
  const r = rand();
  let sender: string; let rcpt = pick(p.users); let ip: string; let subject: string; let status = 'Delivered';
  if (r < 0.78) {
    sender = `news${n % 40}@${pick(p.domains)}`; ip = pick(p.external);
    subject = n % 10 === 0 ? `Re: "Q${n % 4 + 1} report", draft ${n}` : n % 10 === 1 ? `Café, crème & déjà vu — issue ${n}` : `Newsletter ${n}: offers, news`;
    if (n % 50 === 0) status = 'FilteredAsSpam';
  } else if (r < 0.86) { sender = pick(p.users); ip = ''; subject = `Meeting notes ${n}`; }
  else if (r < 0.90) { sender = pick(p.users); rcpt = `someone${n % 1000}@${pick(p.domains)}`; ip = `10.${n & 255}.1.${(n >> 8) & 255}`; subject = `Re: order ${n}`; }
  else if (r < 0.92) { sender = 'crm@contoso.com'; ip = `192.0.2.${16 + (n % 16)}`; subject = `Case ${n} update`; }
  else if (r < 0.95) { const printer = pick(p.printers); const tag = printer.slice(printer.lastIndexOf(".", printer.length - 1) + 1); sender = `scanner-${tag}@contoso.com`; ip = printer; subject = `Scanned from "MX-${tag}" (${n % 9 + 1} pages)`; }
  else {
    sender = `${pick(['ceo', 'hr', 'payroll', 'it', 'accounts'])}${n % 100}@contoso.com`; ip = pick(p.spammers);
    subject = n % 3 === 0 ? `Voicemail received (00:${two(n % 60)}) for ${rcpt}` : n % 3 === 1 ? `Fax "urgent": ${n % 20 + 1} pages` : `Scan the QR code to keep your mailbox, ref ${n}`;
    if (n % 7 === 0) status = 'Quarantined';
  }
  return `"${timestamp(ms, i === 0 ? 0 : n & 3)}","${sender}","${rcpt}",${quote(subject)},"${status}","","${ip}","${1000 + (i % 90_000)}","<${i}@bench.example>","${(i + 0x10000000).toString(16)}-0000-4000-8000-000000000000"`;
}

/** `printers`: how many printers share the printers' 3% of the rows (fewer = more recipients each). */
export async function generateTrace(file: string, rows: number, options: { printers?: number } = {}): Promise<void> {
  const rand = rng(42);
  const p = pools(options.printers ?? 300);
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  out.write('#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceV2\r\n');
  out.write('"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageId","MessageTraceId"\r\n');
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += `${line(i, START_MS + Math.floor((i / rows) * SPAN_MS), rand, p)}\r\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}
