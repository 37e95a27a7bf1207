// mxward queue list|show|retry|delete|flush: the spool as the operator sees it. Works on the
// files under DATA_DIR/spool, so it runs beside a live `mxward serve` (another process): retry and
// flush rewrite nextAttemptAt and touch spool/wakeup, which the gateway's runner polls
// (spool/queue-runner.ts); delete removes the entry, which the runner notices at its next attempt.
import { stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dataPaths, inspectDataDir, resolveStoreLocation } from '../../config/data-dir.ts';
import type { SpoolEnvelope } from '../../spool/envelope.ts';
import { Spool } from '../../spool/spool.ts';
import type { CliIo } from '../io.ts';
import { locateExistingStore, parseCommand, printJson, printTable, UsageError } from '../io.ts';

export const queueHelp = `Usage: mxward queue list [--json]
       mxward queue show QUEUE-ID [--json]
       mxward queue retry QUEUE-ID...     attempt these now
       mxward queue flush                 attempt every queued message now
       mxward queue delete QUEUE-ID...    remove without delivery and without a bounce

A running gateway notices retry and flush within delivery.rescanSeconds (default 1 s).
Status: queued (not tried yet), deferred (a temporary failure; retried at "next").
`;

interface QueueEntry {
  queueId: string;
  status: 'queued' | 'deferred';
  mailFrom: string;
  receivedAt: string;
  nextAttemptAt: string;
  sizeBytes: number | null;
  attempts: number;
  recipients: SpoolEnvelope['recipients'];
  lastReply: string | null;
}

const QUEUE_ID = /^[A-Z0-9]{6,40}$/;

function entryOf(envelope: SpoolEnvelope, sizeBytes: number | null): QueueEntry {
  const attempts = Math.max(0, ...envelope.recipients.map((r) => r.attempts));
  const withReply = envelope.recipients.filter((r) => r.state === 'pending' && r.lastReply);
  return {
    queueId: envelope.queueId, status: attempts > 0 ? 'deferred' : 'queued', mailFrom: envelope.mailFrom ?? '<>',
    receivedAt: envelope.receivedAt, nextAttemptAt: envelope.nextAttemptAt, sizeBytes, attempts,
    recipients: envelope.recipients, lastReply: withReply.at(-1)?.lastReply ?? null,
  };
}

async function readEntry(spool: Spool, queueId: string): Promise<QueueEntry | null> {
  const envelope = await spool.readEnvelope(queueId);
  if (!envelope) return null;
  const size = await stat(spool.messagePath(queueId)).then((s) => s.size + Buffer.byteLength(envelope.prependHeaders), () => null);
  return entryOf(envelope, size);
}

function queueIds(positionals: string[]): string[] {
  const ids = positionals.slice(1);
  if (ids.length === 0) throw new UsageError('missing QUEUE-ID');
  for (const id of ids) if (!QUEUE_ID.test(id)) throw new UsageError(`not a queue id: ${JSON.stringify(id)}`);
  return ids;
}

function age(iso: string, now: number): string {
  return span(now - Date.parse(iso));
}

function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** Makes entries due now; the runner picks them up at its next rescan. */
async function makeDue(spool: Spool, ids: string[], io: CliIo, json: boolean): Promise<number> {
  const done: string[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const envelope = await spool.readEnvelope(id);
    if (!envelope) { missing.push(id); continue; }
    envelope.nextAttemptAt = new Date().toISOString();
    await spool.updateEnvelope(envelope);
    done.push(id);
  }
  if (done.length > 0) await spool.requestRescan();
  if (json) printJson(io, { retried: done, notFound: missing });
  else {
    if (done.length > 0) io.stdout.write(`scheduled for immediate delivery: ${done.length} message(s)\n`);
    for (const id of missing) io.stderr.write(`mxward queue: no queued message ${id}\n`);
  }
  return missing.length > 0 ? 1 : 0;
}

export async function runQueue(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(queueHelp); return values.help ? 0 : 2; }
  // The gateway's data directory (data-dir.ts precedence). The queue is its spool, not the
  // store: a directory with a spool is the right place even before a store exists.
  const location = resolveStoreLocation(values, io.env);
  const paths = dataPaths(location.dataDir);
  const spool = new Spool(existsSync(paths.spool) && inspectDataDir(location.dataDir)?.kind !== 'not-a-directory' ? paths.spool : dataPaths(locateExistingStore(values, io.env).dataDir).spool);
  const json = values.json ?? false;
  const listIds = () => spool.listQueueIds().catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[]; // no spool yet: nothing was ever queued
    throw err;
  });

  if (sub === 'list') {
    const entries: QueueEntry[] = [];
    for (const id of await listIds()) {
      const e = await readEntry(spool, id);
      if (e) entries.push(e);
    }
    if (json) { printJson(io, entries); return 0; }
    const now = Date.now();
    printTable(io, ['queue-id', 'status', 'age', 'attempts', 'next', 'from', 'pending', 'last reply'], entries.map((e) => [
      e.queueId, e.status, age(e.receivedAt, now), String(e.attempts),
      Date.parse(e.nextAttemptAt) <= now ? 'now' : `in ${span(Date.parse(e.nextAttemptAt) - now)}`,
      e.mailFrom, e.recipients.filter((r) => r.state === 'pending').map((r) => r.address).join(','), (e.lastReply ?? '').slice(0, 80),
    ]));
    if (entries.length > 0) io.stdout.write(`${entries.length} message(s) queued\n`);
    return 0;
  }
  if (sub === 'show') {
    const [id] = queueIds(positionals);
    const e = await readEntry(spool, id);
    if (!e) throw new Error(`no queued message ${id}`);
    if (json) { printJson(io, e); return 0; }
    io.stdout.write(`queue-id  ${e.queueId}\nstatus    ${e.status}\nfrom      ${e.mailFrom}\nreceived  ${e.receivedAt}\nnext      ${e.nextAttemptAt}\nsize      ${e.sizeBytes ?? '?'} bytes\n\n`);
    printTable(io, ['recipient', 'state', 'attempts', 'last reply'], e.recipients.map((r) => [r.address, r.state, String(r.attempts), r.lastReply ?? '']));
    return 0;
  }
  if (sub === 'retry') return makeDue(spool, queueIds(positionals), io, json);
  if (sub === 'flush') {
    if (positionals.length > 1) throw new UsageError('flush takes no queue ids; use retry QUEUE-ID');
    return makeDue(spool, await listIds(), io, json);
  }
  if (sub === 'delete') {
    const ids = queueIds(positionals);
    const deleted: string[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      if (await spool.readEnvelope(id)) { await spool.remove(id); deleted.push(id); } else missing.push(id);
    }
    if (json) printJson(io, { deleted, notFound: missing });
    else {
      if (deleted.length > 0) io.stdout.write(`deleted ${deleted.length} message(s)\n`);
      for (const id of missing) io.stderr.write(`mxward queue: no queued message ${id}\n`);
    }
    return missing.length > 0 ? 1 : 0;
  }
  throw new UsageError(`queue: unknown subcommand ${JSON.stringify(sub)}`);
}
