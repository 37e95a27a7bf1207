// Queue administration (list, show, retry, flush, delete), used by `mxward queue` and the HTTP
// API alike. Local actions work on a spool directory, so they run beside a live gateway (another
// process): retry and flush rewrite nextAttemptAt and touch spool/wakeup, which the gateway's
// runner polls (spool/queue-runner.ts); delete removes the entry, which the runner notices at its
// next attempt.
//
// Cluster-wide (issue 14, docs/cluster.md): each node publishes its queue with its heartbeat, so
// `listClusterQueue` shows every node's; a retry or delete of a message another node owns becomes
// a command that node runs on its own spool (startQueueCommandAgent), and the caller waits for the
// owner's answer. The spool never leaves the disk it was written to.
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { SpoolEnvelope } from '../spool/envelope.ts';
import type { Spool } from '../spool/spool.ts';
import { HEARTBEAT_INTERVAL_MS, liveNodes } from './nodes.ts';
import type { ClusterQueueStore, QueueAction, QueueActionResult, QueueEntry, Store } from '../store/ports.ts';

export type { QueueAction, QueueActionResult, QueueEntry } from '../store/ports.ts';

export const QUEUE_ID = /^[A-Z0-9]{6,40}$/;

/** A node publishes at most this many entries (oldest first); `mxward nodes` still shows the full depth. */
export const PUBLISHED_QUEUE_MAX = 1000;
/** How often a node looks for commands addressed to it. */
export const QUEUE_COMMAND_POLL_MS = 250;
/** How long a caller waits for the owning node to answer before withdrawing the command. */
export const QUEUE_COMMAND_WAIT_MS = 10_000;
/** Answered commands are kept this long (the caller has long read the answer; the audit log keeps the action). */
export const QUEUE_COMMAND_KEEP_MS = 3_600_000;

export function isQueueId(value: string): boolean {
  return QUEUE_ID.test(value);
}

function entryOf(envelope: SpoolEnvelope, sizeBytes: number | null): QueueEntry {
  const attempts = Math.max(0, ...envelope.recipients.map((r) => r.attempts));
  const withReply = envelope.recipients.filter((r) => r.state === 'pending' && r.lastReply);
  return {
    queueId: envelope.queueId, status: attempts > 0 ? 'deferred' : 'queued', mailFrom: envelope.mailFrom ?? '<>',
    receivedAt: envelope.receivedAt, nextAttemptAt: envelope.nextAttemptAt, sizeBytes, attempts,
    recipients: envelope.recipients.map((r) => ({ address: r.address, state: r.state, attempts: r.attempts, lastReply: r.lastReply })),
    lastReply: withReply.at(-1)?.lastReply ?? null,
  };
}

async function listIds(spool: Spool): Promise<string[]> {
  try {
    return await spool.listQueueIds();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // no spool yet: nothing was ever queued
    throw err;
  }
}

/** One queued message, or null when this spool does not have it. */
export async function showQueued(spool: Spool, queueId: string): Promise<QueueEntry | null> {
  const envelope = await spool.readEnvelope(queueId);
  if (!envelope) return null;
  const size = await stat(spool.messagePath(queueId)).then((s) => s.size + Buffer.byteLength(envelope.prependHeaders), () => null);
  return entryOf(envelope, size);
}

/** This spool's queue, oldest queue id first; `limit` bounds what is read (a node's published list). */
export async function listQueue(spool: Spool, limit = Number.POSITIVE_INFINITY): Promise<QueueEntry[]> {
  const entries: QueueEntry[] = [];
  for (const id of await listIds(spool)) {
    if (entries.length >= limit) break;
    // Workers of `serve --workers` share a directory: each publishes only the share it delivers.
    if (!spool.owns(id)) continue;
    const e = await showQueued(spool, id);
    if (e) entries.push(e);
  }
  return entries;
}

/** Makes entries due now; the runner picks them up at its next rescan. */
async function retryLocal(spool: Spool, ids: string[]): Promise<QueueActionResult> {
  const done: string[] = [];
  const notFound: string[] = [];
  for (const id of ids) {
    const envelope = await spool.readEnvelope(id);
    if (!envelope) { notFound.push(id); continue; }
    envelope.nextAttemptAt = new Date().toISOString();
    await spool.updateEnvelope(envelope);
    done.push(id);
  }
  if (done.length > 0) await spool.requestRescan();
  return { done, notFound };
}

/** Removes entries without delivery and without a bounce. */
async function deleteLocal(spool: Spool, ids: string[]): Promise<QueueActionResult> {
  const done: string[] = [];
  const notFound: string[] = [];
  for (const id of ids) {
    if (await spool.readEnvelope(id)) { await spool.remove(id); done.push(id); } else notFound.push(id);
  }
  return { done, notFound };
}

/** Runs an action on one spool: flush ignores `ids` and makes every entry due. */
export async function runLocalQueueAction(spool: Spool, action: QueueAction, ids: string[]): Promise<QueueActionResult> {
  if (action === 'delete') return deleteLocal(spool, ids);
  if (action === 'flush') return retryLocal(spool, (await listIds(spool)).filter((id) => spool.owns(id)));
  return retryLocal(spool, ids);
}

export interface QueueAdminDeps {
  /** This host's spool (the CLI's data directory, the API's own node); null when there is none. */
  spool: Spool | null;
  /** Cluster-wide actions (PostgreSQL) and the audit log; null: this spool only, unaudited. */
  store: Pick<Store, 'clusterQueue' | 'listNodes' | 'appendAudit'> | null;
  /** Who asked: `cli:alice`, `api:token-name`; in the audit log and with a command for another node. */
  actor: string;
  waitMs?: number;
}

/** The per-node outcome of a cluster-wide action: `node` is null for the local spool. */
export interface NodeActionResult extends QueueActionResult {
  node: string | null;
  /** The owning node did not answer in time; its command was withdrawn. */
  unanswered?: boolean;
}

export interface ClusterActionResult extends QueueActionResult {
  nodes: NodeActionResult[];
}

function clusterOf(deps: QueueAdminDeps): ClusterQueueStore | null {
  return deps.store?.clusterQueue?.() ?? null;
}

/** Every node's published queue (PostgreSQL), or this spool's with node null elsewhere. */
export async function listClusterQueue(deps: QueueAdminDeps): Promise<Array<QueueEntry & { node: string | null; heartbeatAgeMs: number | null }>> {
  const cluster = clusterOf(deps);
  if (cluster) return cluster.listClusterQueue();
  const local = deps.spool ? await listQueue(deps.spool) : [];
  return local.map((e) => ({ ...e, node: null, heartbeatAgeMs: null }));
}

/** One message: from this spool, else as the node holding it last published it (node set). */
export async function showClusterQueued(deps: QueueAdminDeps, queueId: string): Promise<(QueueEntry & { node: string | null; heartbeatAgeMs: number | null }) | null> {
  const local = deps.spool ? await showQueued(deps.spool, queueId) : null;
  if (local) return { ...local, node: null, heartbeatAgeMs: null };
  const cluster = clusterOf(deps);
  if (!cluster) return null;
  return (await cluster.listClusterQueue()).find((e) => e.queueId === queueId) ?? null;
}

/** Asks `nodeId` to run the action on its spool and waits (bounded) for its answer. */
async function askOwner(cluster: ClusterQueueStore, nodeId: string, action: QueueAction, ids: string[], deps: QueueAdminDeps): Promise<NodeActionResult> {
  const id = await cluster.requestQueueCommand({ nodeId, action, queueIds: ids, actor: deps.actor });
  const deadline = Date.now() + (deps.waitMs ?? QUEUE_COMMAND_WAIT_MS);
  for (;;) {
    const result = await cluster.queueCommandResult(id);
    if (result) return { node: nodeId, ...result };
    if (Date.now() >= deadline) {
      // Withdrawn, so a node that comes back much later does not act on a stale request.
      if (await cluster.cancelQueueCommand(id)) return { node: nodeId, done: [], notFound: [], unanswered: true };
    } else await new Promise((r) => setTimeout(r, 50));
  }
}

function merged(nodes: NodeActionResult[], notFound: string[]): ClusterActionResult {
  // An id can be done twice (flush --all-nodes from a node's own host flushes its spool locally and by command).
  const done = [...new Set(nodes.flatMap((n) => n.done))];
  return { done, notFound: [...new Set(notFound)].filter((id) => !done.includes(id)), nodes };
}

/** An operator action on mail in flight is a change like a policy edit: it goes into the audit log. */
async function audited(deps: QueueAdminDeps, action: QueueAction, requested: string[] | null, result: ClusterActionResult): Promise<ClusterActionResult> {
  if (deps.store && (result.done.length > 0 || action === 'flush')) {
    await deps.store.appendAudit(deps.actor, `queue.${action}`, null, {
      requested, done: result.done, notFound: result.notFound,
      nodes: result.nodes.map((n) => ({ node: n.node, done: n.done.length, unanswered: n.unanswered ?? false })),
    });
  }
  return result;
}

/**
 * retry or delete: the local spool first; ids it does not have go to the node that published
 * them. An id no node published is reported in notFound.
 */
export async function queueAction(deps: QueueAdminDeps, action: 'retry' | 'delete', ids: string[]): Promise<ClusterActionResult> {
  const nodes: NodeActionResult[] = [];
  let remaining = ids;
  if (deps.spool) {
    const local = await runLocalQueueAction(deps.spool, action, ids);
    nodes.push({ node: null, ...local });
    remaining = local.notFound;
  }
  const cluster = clusterOf(deps);
  if (!cluster || remaining.length === 0) return audited(deps, action, ids, merged(nodes, remaining));
  const owners = await cluster.queueOwners(remaining);
  const byNode = new Map<string, string[]>();
  for (const id of remaining) {
    const owner = owners.get(id);
    if (owner) byNode.set(owner, [...(byNode.get(owner) ?? []), id]);
  }
  const answers = await Promise.all([...byNode].map(([node, nodeIds]) => askOwner(cluster, node, action, nodeIds, deps)));
  // The local spool's "not found" is not the final word for ids another node answered for.
  if (nodes[0]) nodes[0] = { ...nodes[0], notFound: nodes[0].notFound.filter((id) => !owners.has(id)) };
  const unanswered = answers.filter((a) => a.unanswered).flatMap((a) => byNode.get(a.node!) ?? []);
  return audited(deps, action, ids, merged([...nodes, ...answers], [...remaining.filter((id) => !owners.has(id)), ...unanswered, ...answers.flatMap((a) => a.notFound)]));
}

/** flush: the local spool, and with `allNodes` every live node (each flushes its own spool). */
export async function flushQueue(deps: QueueAdminDeps, allNodes: boolean): Promise<ClusterActionResult> {
  const nodes: NodeActionResult[] = [];
  if (deps.spool) nodes.push({ node: null, ...await runLocalQueueAction(deps.spool, 'flush', []) });
  const cluster = clusterOf(deps);
  if (allNodes && cluster && deps.store?.listNodes) {
    const live = liveNodes(await deps.store.listNodes());
    nodes.push(...await Promise.all(live.map((n) => askOwner(cluster, n.nodeId, 'flush', [], deps))));
  }
  return audited(deps, 'flush', null, merged(nodes, []));
}

export interface QueueCommandAgentOptions {
  cluster: ClusterQueueStore;
  /** The gateway's own spool: commands go through it, so its in-memory entries stay current. */
  spool: Spool;
  /**
   * A second, read-only view of the same directory for publishing: reading through the
   * gateway's spool would use up the envelopes it keeps for the runner's first attempt.
   */
  listing: Spool;
  nodeId: () => string;
  logger: Logger;
  pollMs?: number;
  publishMs?: number;
}

export interface QueueCommandAgent {
  /** Publishes this node's queue now; false when the store is unreachable. */
  publish(): Promise<boolean>;
  stop(): void;
}

/**
 * The owner's side: polls for commands addressed to this node, runs each on the node's own
 * spool and answers it. A failure (store down) is retried at the next poll; commands are
 * idempotent (retry again, delete of a missing id), so running one twice after a crash is harmless.
 */
export function startQueueCommandAgent(o: QueueCommandAgentOptions): QueueCommandAgent {
  let busy = false;
  const poll = async () => {
    if (busy || !o.nodeId()) return;
    busy = true;
    try {
      for (const command of await o.cluster.pendingQueueCommands(o.nodeId())) {
        const result = await runLocalQueueAction(o.spool, command.action, command.queueIds);
        await o.cluster.completeQueueCommand(command.id, result);
        o.logger.info({ stage: 'queue', event: 'remote-command', action: command.action, actor: command.actor, done: result.done.length, notFound: result.notFound.length }, 'queue command from another node');
      }
    } catch {
      // The store is unreachable: the heartbeat logs the outage; the command waits for the next poll.
    } finally {
      busy = false;
    }
  };
  // Published at the heartbeat's pace, and only when it changed: an idle node writes nothing.
  let lastPublished: string | null = null;
  const publish = async (): Promise<boolean> => {
    if (!o.nodeId()) return true;
    try {
      const entries = await listQueue(o.listing, PUBLISHED_QUEUE_MAX);
      const text = JSON.stringify(entries);
      if (text === lastPublished) return true;
      await o.cluster.publishQueue(o.nodeId(), entries);
      lastPublished = text;
      return true;
    } catch {
      return false;
    }
  };
  const timers = [
    setInterval(() => void poll(), o.pollMs ?? QUEUE_COMMAND_POLL_MS),
    setInterval(() => void publish(), o.publishMs ?? HEARTBEAT_INTERVAL_MS),
    // Any node may prune: the statement is the same whoever runs it, and it is cheap when empty.
    setInterval(() => void o.cluster.pruneQueueCommands(QUEUE_COMMAND_KEEP_MS).catch(() => {}), QUEUE_COMMAND_KEEP_MS / 12),
  ];
  for (const t of timers) t.unref();
  void publish();
  return { publish, stop() { for (const t of timers) clearInterval(t); } };
}
