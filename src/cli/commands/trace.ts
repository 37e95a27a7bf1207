// mxward trace: every transaction the gateway saw, rejected ones included (SPEC §7), newest first.
import type { DirectSendKind, TraceRecord } from '../../domain/types.ts';
import { listTrace, parseTimeOrAge, TRACE_VERDICTS } from '../../services/trace-queries.ts';
import type { TraceQuery, TraceVerdict } from '../../services/trace-queries.ts';
import { ServiceError } from '../../services/service-error.ts';
import type { CliIo } from '../io.ts';
import { openStore, parseCommand, printJson, printTable, UsageError } from '../io.ts';

export const traceHelp = `Usage: mxward trace [filters] [--json]

  --since WHEN        ISO time (2026-11-23T10:00Z) or an age: 30m, 2h, 7d
  --until WHEN        only records before WHEN (same forms as --since)
  --ip ADDRESS        client IP
  --sender TEXT       envelope sender (MAIL FROM) contains TEXT
  --recipient TEXT    a recipient contains TEXT
  --direct-send       only transactions recognised as Direct Send (rejected or would-reject)
  --kind p1|header-from  only that Direct Send kind
  --verdict V         accept | quarantine | junk | reject | tempfail | abandoned
  --node NODE-ID      only transactions handled by this gateway node (as \`mxward nodes\` lists it)
  --limit N           at most N records (default 100)
`;

export function parseSince(value: string, now: Date, flag = '--since'): string {
  const time = parseTimeOrAge(value, now);
  if (time === null) throw new UsageError(`${flag}: expected an ISO time or an age like 2h, got ${JSON.stringify(value)}`);
  return time;
}

function row(r: TraceRecord): string[] {
  const who = r.authUser ? `auth:${r.authUser}` : r.connector ? `${r.attribution}:${r.connector}` : r.attribution;
  const ds = r.directSend ? `${r.directSend}${r.directSendWouldReject && r.verdict !== 'reject' ? ' (would reject)' : ''}` : '-';
  return [r.time.replace('T', ' ').slice(0, 19), r.remoteIp, who, r.mailFrom ?? '<>', [...r.recipients, ...(r.rejectedRecipients ?? []).map((a) => `${a} (refused)`)].join(',') || '-', ds, r.verdict, r.deliveryStatus, r.reply];
}

export async function runTrace(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    since: { type: 'string' }, until: { type: 'string' }, ip: { type: 'string' }, sender: { type: 'string' }, recipient: { type: 'string' },
    'direct-send': { type: 'boolean' }, kind: { type: 'string' }, verdict: { type: 'string' }, node: { type: 'string' }, limit: { type: 'string' },
  });
  if (values.help) { io.stdout.write(traceHelp); return 0; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.verdict && !(TRACE_VERDICTS as readonly string[]).includes(values.verdict)) throw new UsageError(`--verdict: expected one of ${TRACE_VERDICTS.join(', ')}`);
  if (values.kind && values.kind !== 'p1' && values.kind !== 'header-from') throw new UsageError(`--kind: expected p1 or header-from, got ${JSON.stringify(values.kind)}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a positive whole number, got ${JSON.stringify(values.limit)}`);
  const now = new Date();
  const query: TraceQuery = {
    since: values.since ? parseSince(values.since, now) : undefined,
    until: values.until ? parseSince(values.until, now, '--until') : undefined,
    ip: values.ip, sender: values.sender, recipient: values.recipient,
    directSend: values['direct-send'] || undefined,
    directSendKind: values.kind as DirectSendKind | undefined,
    verdict: values.verdict as TraceVerdict | undefined,
    node: values.node,
  };
  const store = openStore(values, io.env);
  try {
    const records = await listTrace(store, query, limit).catch((err: unknown) => {
      if (err instanceof ServiceError) throw new UsageError(`--${err.path ?? 'trace'}: ${err.message.replace(/^\w+: /, '')}`);
      throw err;
    });
    if (values.json) printJson(io, records);
    else if (records.some((r) => r.node)) {
      // Several nodes share the trace (issue 14): say which one handled each transaction.
      printTable(io, ['time', 'node', 'ip', 'source', 'mailFrom', 'recipients', 'directSend', 'verdict', 'delivery', 'reply'],
        records.map((r) => { const cells = row(r); cells.splice(1, 0, r.node ?? '-'); return cells; }));
    } else printTable(io, ['time', 'ip', 'source', 'mailFrom', 'recipients', 'directSend', 'verdict', 'delivery', 'reply'], records.map(row));
    return 0;
  } finally {
    await store.close();
  }
}
