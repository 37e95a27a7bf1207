// Writes a synthetic Get-MessageTraceV2 export (Windows PowerShell Export-Csv style: #TYPE line,
// every field quoted, ISO timestamps) with a realistic mix: mostly ordinary external mail, some
// internal and outbound, a little connector traffic, and Direct Send from printers and spammers.
// Deterministic (seeded), so runs compare like with like.
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

export async function generateTrace(file: string, rows: number): Promise<void> {
  const rand = rng(42);
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)];
  const users = Array.from({ length: 500 }, (_, i) => `user${i}@contoso.com`);
  const foreignDomains = Array.from({ length: 500 }, (_, i) => `sender${i}.example`);
  const externalIps = Array.from({ length: 20_000 }, (_, i) => `${100 + (i % 100)}.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);
  const printers = Array.from({ length: 20 }, (_, i) => `203.0.113.${10 + i}`);
  const spammers = Array.from({ length: 2_000 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`);
  const subjects = ['Invoice 2026-11', 'Meeting notes', 'Re: project update', 'Your order has shipped', 'Weekly newsletter, November', 'Password expiry notice'];
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  out.write('#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceV2\r\n');
  out.write('"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageId","MessageTraceId"\r\n');
  const start = Date.UTC(2026, 10, 1);
  const spanMs = 10 * 86_400_000;
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const time = new Date(start + Math.floor((i / rows) * spanMs)).toISOString().replace('Z', '0000Z');
    const r = rand();
    let sender: string; let rcpt = pick(users); let ip: string; let subject: string;
    if (r < 0.80) { sender = `news${Math.floor(rand() * 20)}@${pick(foreignDomains)}`; ip = pick(externalIps); subject = pick(subjects); }
    else if (r < 0.88) { sender = pick(users); ip = ''; subject = pick(subjects); }
    else if (r < 0.92) { sender = pick(users); rcpt = `someone@${pick(foreignDomains)}`; ip = `10.${Math.floor(rand() * 255)}.1.${Math.floor(rand() * 255)}`; subject = pick(subjects); }
    else if (r < 0.94) { sender = 'crm@contoso.com'; ip = `192.0.2.${16 + Math.floor(rand() * 16)}`; subject = 'Case update'; }
    else if (r < 0.97) { const p = pick(printers); sender = `scanner-${p.slice(-2)}@contoso.com`; ip = p; subject = `Scanned from MX-${p.slice(-2)}`; }
    else { sender = `${pick(['ceo', 'hr', 'payroll', 'it'])}@contoso.com`; ip = pick(spammers); subject = pick(['Voicemail received (00:42)', 'Fax received: 3 pages', 'Scan the QR code to keep your mailbox']); }
    chunk += `"${time}","${sender}","${rcpt}","${subject}","Delivered","","${ip}","${1000 + (i % 90_000)}","<${i}@bench.example>","${(i + 0x10000000).toString(16)}-0000-4000-8000-000000000000"\r\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}
