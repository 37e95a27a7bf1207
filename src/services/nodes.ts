// Several gateway nodes on one store (issue 14): each node reports the policy version it runs and
// a heartbeat; `mxward nodes` lists them and `mxward org set --wait` waits until every live node
// runs the new version. Used by app.ts (the heartbeat) and the CLI (listing, waiting).
import { readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { LivePolicy } from '../store/live-policy.ts';
import type { NodeReport, NodeStatus, Store } from '../store/ports.ts';

/** How often a node refreshes its row; it also writes at once when it applies a new policy. */
export const HEARTBEAT_INTERVAL_MS = 2_000;
/** A node whose heartbeat is older is not live: `--wait` does not wait for it (crashed, stopped). */
export const LIVE_WITHIN_MS = 5 * HEARTBEAT_INTERVAL_MS;

let cachedVersion: Promise<string> | null = null;

export function mxwardVersion(): Promise<string> {
  cachedVersion ??= readFile(new URL('../../package.json', import.meta.url), 'utf8')
    .then((text) => String((JSON.parse(text) as { version?: unknown }).version ?? 'unknown'))
    .catch(() => 'unknown');
  return cachedVersion;
}

/** Stable across restarts of the same listener, distinct for each worker of `serve --workers`. */
export function nodeIdFor(port: number, worker?: { index: number; count: number }): string {
  return `${hostname()}:${port}${worker && worker.count > 1 ? `#${worker.index}` : ''}`;
}

/** Entries in a directory (the node's quarantine files); 0 when it does not exist yet. */
export async function countEntries(dir: string): Promise<number> {
  try {
    return (await readdir(dir)).length;
  } catch {
    return 0;
  }
}

export interface HeartbeatOptions {
  store: Pick<Store, 'recordNode'>;
  livePolicy: LivePolicy;
  nodeId: string;
  address: string;
  queueDepth(): number;
  quarantineCount(): Promise<number>;
  logger: Logger;
  intervalMs?: number;
}

export interface NodeHeartbeat {
  /** Writes the row now; resolves false when the store could not be reached (logged once per outage). */
  beat(): Promise<boolean>;
  stop(): void;
}

export function startNodeHeartbeat(o: HeartbeatOptions): NodeHeartbeat {
  const startedAt = new Date().toISOString();
  let unreachableSince: string | null = null;
  let lastOutage: string | null = null;
  let inFlight: Promise<boolean> | null = null;
  let again = false;
  const write = async (): Promise<boolean> => {
    if (!o.store.recordNode) return true;
    const report: NodeReport = {
      nodeId: o.nodeId, address: o.address, mxwardVersion: await mxwardVersion(), policyVersion: o.livePolicy.current().version,
      startedAt, queueDepth: o.queueDepth(), quarantineCount: await o.quarantineCount(), storeOutage: lastOutage,
    };
    try {
      await o.store.recordNode(report);
    } catch (err) {
      if (!unreachableSince) {
        unreachableSince = new Date().toISOString();
        o.logger.error({ stage: 'store', event: 'unreachable', node: o.nodeId, err: (err as Error).message }, 'store unreachable from this node');
      }
      return false;
    }
    if (unreachableSince) {
      // Shown by `mxward nodes` once the store is back: the outage this node lived through.
      lastOutage = `unreachable from ${unreachableSince} to ${new Date().toISOString()}`;
      o.logger.warn({ stage: 'store', event: 'reachable', node: o.nodeId, since: unreachableSince }, 'store reachable again');
      unreachableSince = null;
      await o.store.recordNode({ ...report, storeOutage: lastOutage }).catch(() => {});
    }
    return true;
  };
  // One write at a time; a beat asked for meanwhile runs after it, so the newest version lands.
  const beat = (): Promise<boolean> => {
    if (inFlight) { again = true; return inFlight; }
    inFlight = write().finally(() => {
      inFlight = null;
      if (again) { again = false; void beat(); }
    });
    return inFlight;
  };
  const timer = setInterval(() => void beat(), o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  const unsubscribe = o.livePolicy.onApplied(() => void beat());
  void beat();
  return { beat, stop() { clearInterval(timer); unsubscribe(); } };
}

export type PolicyWaitResult =
  | { ok: true; elapsedMs: number; nodes: NodeStatus[] }
  | { ok: false; elapsedMs: number; lagging: NodeStatus[] };

/** Every node whose heartbeat is recent: the ones a policy change must reach. */
export function liveNodes(nodes: NodeStatus[], liveWithinMs = LIVE_WITHIN_MS): NodeStatus[] {
  return nodes.filter((n) => n.heartbeatAgeMs <= liveWithinMs);
}

/**
 * Polls the nodes table until every live node reports `version` or later. A value, not an
 * exception, when it times out: the CLI names the nodes that lag.
 */
export async function waitForPolicyEverywhere(
  store: Pick<Store, 'listNodes'>, version: number, options: { timeoutMs: number; pollMs?: number; startedAtMs?: number },
): Promise<PolicyWaitResult> {
  const started = options.startedAtMs ?? performance.now();
  const deadline = started + options.timeoutMs;
  for (;;) {
    const nodes = liveNodes(await store.listNodes?.() ?? []);
    const lagging = nodes.filter((n) => n.policyVersion < version);
    const elapsedMs = Math.round(performance.now() - started);
    if (lagging.length === 0) return { ok: true, elapsedMs, nodes };
    if (performance.now() >= deadline) return { ok: false, elapsedMs, lagging };
    await new Promise((r) => setTimeout(r, options.pollMs ?? 20));
  }
}

/**
 * The store as one node's SMTP path uses it: every trace record names the node that handled the
 * transaction (issue 14), so one cluster-wide trace still says which machine decided. `nodeId`
 * is read per record because a listener on port 0 learns its port only after it listens.
 */
export function stampTraceNode<S extends Pick<Store, 'appendTrace'>>(store: S, nodeId: () => string): S {
  // Made once, not per record: the trap below hands out this same function on every access.
  const appendTrace: Store['appendTrace'] = (record, options) =>
    store.appendTrace(record.node ? record : { ...record, node: nodeId() }, options);
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'appendTrace') return appendTrace;
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface NodesView {
  /** The version stored (the newest committed); each node's own is in its row. */
  policyVersion: number;
  nodes: Array<NodeStatus & { live: boolean }>;
}

/** What `mxward nodes` and GET /nodes show: every node's row, marked live or stale. */
export async function describeNodes(store: Pick<Store, 'readPolicyVersion' | 'listNodes'>): Promise<NodesView> {
  const [policyVersion, nodes] = await Promise.all([store.readPolicyVersion(), store.listNodes?.() ?? Promise.resolve([])]);
  return { policyVersion, nodes: nodes.map((n) => ({ ...n, live: n.heartbeatAgeMs <= LIVE_WITHIN_MS })) };
}
