// mxward trace: every transaction the gateway saw, rejected ones included (SPEC §7), newest first.
import type { TraceFilter } from '../../store/ports.ts';
import type { TraceRecord, VerdictAction } from '../../domain/types.ts';
import type { CliIo } from '../io.ts';
import { openStore, parseCommand, printJson, printTable, UsageError } from '../io.ts';

export const traceHelp = `Usage: mxward trace [filters] [--json]

  --since WHEN        ISO time (2026-11-23T10:00Z) or an age: 30m, 2h, 7d
  --ip ADDRESS        client IP
  --sender TEXT       envelope sender (MAIL FROM) contains TEXT
  --recipient TEXT    a recipient contains TEXT
  --direct-send       only transactions recognised as Direct Send (rejected or would-reject)
  --verdict V         accept | quarantine | junk | reject | tempfail | abandoned
  --limit N           at most N records (default 100)
`;

const verdicts = ['accept', 'quarantine', 'junk', 'reject', 'tempfail', 'abandoned'];

export function parseSince(value: string, now: Date): string {
  const age = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (age) {
    const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(age[1]) * unitMs).toISOString();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`--since: expected an ISO time or an age like 2h, got ${JSON.stringify(value)}`);
  return new Date(t).toISOString();
}

function row(r: TraceRecord): string[] {
  const who = r.authUser ? `auth:${r.authUser}` : r.connector ? `${r.attribution}:${r.connector}` : r.attribution;
  const ds = r.directSend ? `${r.directSend}${r.directSendWouldReject && r.verdict !== 'reject' ? ' (would reject)' : ''}` : '-';
  return [r.time.replace('T', ' ').slice(0, 19), r.remoteIp, who, r.mailFrom ?? '<>', [...r.recipients, ...(r.rejectedRecipients ?? []).map((a) => `${a} (refused)`)].join(',') || '-', ds, r.verdict, r.deliveryStatus, r.reply];
}

export async function runTrace(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    since: { type: 'string' }, ip: { type: 'string' }, sender: { type: 'string' }, recipient: { type: 'string' },
    'direct-send': { type: 'boolean' }, verdict: { type: 'string' }, limit: { type: 'string' },
  });
  if (values.help) { io.stdout.write(traceHelp); return 0; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.verdict && !verdicts.includes(values.verdict)) throw new UsageError(`--verdict: expected one of ${verdicts.join(', ')}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a positive whole number, got ${JSON.stringify(values.limit)}`);
  const filter: TraceFilter = {
    since: values.since ? parseSince(values.since, new Date()) : undefined,
    ip: values.ip, sender: values.sender, recipient: values.recipient,
    directSend: values['direct-send'] || undefined,
    verdict: values.verdict as VerdictAction | undefined,
    limit,
  };
  const store = openStore(values, io.env);
  try {
    const records = await store.queryTrace(filter);
    if (values.json) printJson(io, records);
    else printTable(io, ['time', 'ip', 'source', 'mailFrom', 'recipients', 'directSend', 'verdict', 'delivery', 'reply'], records.map(row));
    return 0;
  } finally {
    await store.close();
  }
}
