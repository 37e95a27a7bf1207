// mxward queue list|show|retry|delete|flush: the spool as the operator sees it, through the queue
// admin service (services/queue-admin.ts) that the HTTP API uses too. Local actions work on the
// files under DATA_DIR/spool, beside a live `mxward serve`. On PostgreSQL the queue is
// cluster-wide (issue 14): --all-nodes lists or flushes every node's queue, and retry or delete of
// a message another node owns is carried out by that node.
import { existsSync } from 'node:fs';
import { dataPaths, inspectDataDir, resolveStoreLocation } from '../../config/data-dir.ts';
import { LIVE_WITHIN_MS } from '../../services/nodes.ts';
import { flushQueue, isQueueId, listClusterQueue, listQueue, queueAction, showClusterQueued } from '../../services/queue-admin.ts';
import type { ClusterActionResult, QueueAdminDeps, QueueEntry } from '../../services/queue-admin.ts';
import { Spool } from '../../spool/spool.ts';
import type { Store } from '../../store/ports.ts';
import type { CliIo } from '../io.ts';
import { actorOf, locateExistingStore, openStore, parseCommand, printJson, printTable, UsageError } from '../io.ts';

export const queueHelp = `Usage: mxward queue list [--all-nodes] [--json]
       mxward queue show QUEUE-ID [--json]
       mxward queue retry QUEUE-ID...     attempt these now
       mxward queue flush [--all-nodes]   attempt every queued message now
       mxward queue delete QUEUE-ID...    remove without delivery and without a bounce

A running gateway notices retry and flush within delivery.rescanSeconds (default 1 s).
Status: queued (not tried yet), deferred (a temporary failure; retried at "next").

Several nodes on PostgreSQL: --all-nodes lists every node's queue as each node last published it
(every 2 s, at most 1000 entries per node) or asks every live node to flush its own. retry and
delete act on this host's spool first; an id it does not have goes to the node that published it,
which carries it out and answers within seconds (a node that does not answer in 10 s is named).
`;

function queueIds(positionals: string[]): string[] {
  const ids = positionals.slice(1);
  if (ids.length === 0) throw new UsageError('missing QUEUE-ID');
  for (const id of ids) if (!isQueueId(id)) throw new UsageError(`not a queue id: ${JSON.stringify(id)}`);
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

function queueRow(e: QueueEntry, now: number): string[] {
  return [
    e.queueId, e.status, age(e.receivedAt, now), String(e.attempts),
    Date.parse(e.nextAttemptAt) <= now ? 'now' : `in ${span(Date.parse(e.nextAttemptAt) - now)}`,
    e.mailFrom, e.recipients.filter((r) => r.state === 'pending').map((r) => r.address).join(','), (e.lastReply ?? '').slice(0, 80),
  ];
}

function printResult(io: CliIo, json: boolean, result: ClusterActionResult, verb: 'retried' | 'deleted'): number {
  if (json) printJson(io, { [verb]: result.done, notFound: result.notFound, nodes: result.nodes });
  else {
    if (result.done.length > 0) {
      io.stdout.write(verb === 'retried' ? `scheduled for immediate delivery: ${result.done.length} message(s)\n` : `deleted ${result.done.length} message(s)\n`);
    }
    for (const n of result.nodes) {
      if (n.node && n.done.length > 0) io.stdout.write(`  ${n.done.length} on node ${n.node}\n`);
      if (n.unanswered) io.stderr.write(`mxward queue: node ${n.node} did not answer; its command was withdrawn\n`);
    }
    for (const id of result.notFound) io.stderr.write(`mxward queue: no queued message ${id}\n`);
  }
  return result.notFound.length > 0 ? 1 : 0;
}

/** The gateway's spool (data-dir.ts precedence); a directory with a spool serves even before a store exists. */
function localSpool(values: Parameters<typeof resolveStoreLocation>[0], env: NodeJS.ProcessEnv): Spool {
  const location = resolveStoreLocation(values, env);
  const paths = dataPaths(location.dataDir);
  return new Spool(existsSync(paths.spool) && inspectDataDir(location.dataDir)?.kind !== 'not-a-directory' ? paths.spool : dataPaths(locateExistingStore(values, env).dataDir).spool);
}

function openExistingStore(values: Parameters<typeof openStore>[0] & object, env: NodeJS.ProcessEnv): Store | null {
  try {
    return openStore(values, env);
  } catch (err) {
    if (err instanceof UsageError && !resolveStoreLocation(values, env).url) return null;
    throw err;
  }
}

export async function runQueue(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, { 'all-nodes': { type: 'boolean' } });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(queueHelp); return values.help ? 0 : 2; }
  if (values['all-nodes'] && sub !== 'list' && sub !== 'flush') throw new UsageError('--all-nodes goes with list and flush');
  if (!['list', 'show', 'retry', 'flush', 'delete'].includes(sub)) throw new UsageError(`queue: unknown subcommand ${JSON.stringify(sub)}`);
  if (sub === 'flush' && positionals.length > 1) throw new UsageError('flush takes no queue ids; use retry QUEUE-ID');
  const ids = sub === 'retry' || sub === 'delete' || sub === 'show' ? queueIds(positionals) : [];
  const spool = localSpool(values, io.env);
  const json = values.json ?? false;
  // The store for the audit log and, on PostgreSQL, the other nodes (on SQLite every node shares
  // this data directory). A spool without a store yet is still listed and acted on, unaudited.
  const store: Store | null = sub === 'list' && !values['all-nodes'] ? null : openExistingStore(values, io.env);
  const deps: QueueAdminDeps = { spool, store, actor: actorOf(values.actor, io.env) };
  try {
    if (sub === 'list') return await printList(io, deps, values['all-nodes'] ?? false, json);
    if (sub === 'show') {
      const e = await showClusterQueued(deps, ids[0]);
      if (!e) throw new Error(`no queued message ${ids[0]}`);
      if (json) { printJson(io, e); return 0; }
      const where = e.node ? `node      ${e.node} (as published ${((e.heartbeatAgeMs ?? 0) / 1000).toFixed(1)} s ago)\n` : '';
      io.stdout.write(`queue-id  ${e.queueId}\nstatus    ${e.status}\n${where}from      ${e.mailFrom}\nreceived  ${e.receivedAt}\nnext      ${e.nextAttemptAt}\nsize      ${e.sizeBytes ?? '?'} bytes\n\n`);
      printTable(io, ['recipient', 'state', 'attempts', 'last reply'], e.recipients.map((r) => [r.address, r.state, String(r.attempts), r.lastReply ?? '']));
      return 0;
    }
    if (sub === 'flush') return printResult(io, json, await flushQueue(deps, values['all-nodes'] ?? false), 'retried');
    return printResult(io, json, await queueAction(deps, sub as 'retry' | 'delete', ids), sub === 'retry' ? 'retried' : 'deleted');
  } finally {
    await store?.close();
  }
}

async function printList(io: CliIo, deps: QueueAdminDeps, allNodes: boolean, json: boolean): Promise<number> {
  const now = Date.now();
  if (!allNodes) {
    const entries = await listQueue(deps.spool!);
    if (json) { printJson(io, entries); return 0; }
    printTable(io, ['queue-id', 'status', 'age', 'attempts', 'next', 'from', 'pending', 'last reply'], entries.map((e) => queueRow(e, now)));
    if (entries.length > 0) io.stdout.write(`${entries.length} message(s) queued\n`);
    return 0;
  }
  const entries = await listClusterQueue(deps);
  if (json) { printJson(io, entries); return 0; }
  printTable(io, ['node', 'queue-id', 'status', 'age', 'attempts', 'next', 'from', 'pending', 'last reply'], entries.map((e) => [
    `${e.node ?? 'this node'}${e.heartbeatAgeMs !== null && e.heartbeatAgeMs > LIVE_WITHIN_MS ? ' (stale)' : ''}`, ...queueRow(e, now),
  ]));
  if (entries.length > 0) io.stdout.write(`${entries.length} message(s) queued on ${new Set(entries.map((e) => e.node)).size} node(s)\n`);
  return 0;
}
