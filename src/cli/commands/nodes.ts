// mxward nodes: the gateway nodes sharing this store (issue 14), with the policy version each one
// runs, its last heartbeat, queue depth and quarantine count. A node whose heartbeat is older than
// LIVE_WITHIN_MS is shown as stale: stopped, crashed, or cut off from the store.
import { describeNodes, LIVE_WITHIN_MS } from '../../services/nodes.ts';
import type { CliIo } from '../io.ts';
import { openStore, parseCommand, printJson, printTable } from '../io.ts';

export const nodesHelp = `Usage: mxward nodes [--json]

Lists the gateway nodes that share this store: node, address, mxward version, policy version in
force and when the node first reported it (the store's clock, UTC), last heartbeat (and its age),
queue depth, quarantine count, and whether the node is live
(a heartbeat within ${LIVE_WITHIN_MS / 1000} s) or stale. The stored policy version is printed first.
`;

export async function runNodes(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  if (values.help) { io.stdout.write(nodesHelp); return 0; }
  if (positionals.length > 0) { io.stderr.write(`mxward nodes: unexpected argument ${JSON.stringify(positionals[0])}\n`); return 2; }
  const store = openStore(values, io.env);
  try {
    const { policyVersion, nodes: view } = await describeNodes(store);
    if (values.json) { printJson(io, { policyVersion, nodes: view }); return 0; }
    io.stdout.write(`stored policy version ${policyVersion}; ${view.filter((n) => n.live).length} live node(s)\n`);
    printTable(io, ['node', 'address', 'mxward', 'policy', 'applied', 'heartbeat', 'age', 'queue', 'quarantine', 'state', 'last store outage'], view.map((n) => [
      n.nodeId, n.address, n.mxwardVersion, String(n.policyVersion), n.policyAppliedAt?.slice(11, 23) ?? '-', n.heartbeat, `${(n.heartbeatAgeMs / 1000).toFixed(1)}s`,
      String(n.queueDepth), String(n.quarantineCount), n.live ? 'live' : 'stale', n.storeOutage ?? '-',
    ]));
    return 0;
  } finally {
    await store.close();
  }
}
