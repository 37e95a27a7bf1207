// `node bench/cluster/run.ts [--changes N] [--messages N] [--clients N] [--keep]`
//
// The cluster bench of issue 14, on loopback: three `mxward serve` processes sharing a private
// PostgreSQL started here (test/e2e/cluster-nodes.ts starts them as the cluster test does).
//
// 1. Policy propagation: N policy commits (default 100), one after another, each written through
//    the store as the CLI or the API would write it. For each, the time from the commit (its audit
//    entry) to the last node's report of the new version (policyAppliedAt in the nodes table); both
//    in the database's clock, so the nodes' clocks do not enter. Median and max.
// 2. Accept-path throughput: the same message count from the same number of concurrent SMTP
//    clients (one connection per message, as MX traffic arrives), first all to one node, then
//    spread over the three, each delivering to an in-process SMTP sink. Messages per second from
//    the first connection to the last 250.
// Everything (processes, database, files) is removed at the end unless --keep.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { defaultPolicy } from '../../src/config/policy-schema.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { startCountingDownstream } from '../../test/helpers/counting-downstream.ts';
import { startPrivatePostgres } from '../../test/helpers/private-postgres.ts';
import { SmtpClient, testMessage } from '../../test/helpers/smtp-client.ts';
import { startServeNode } from '../../test/e2e/cluster-nodes.ts';
import type { ServeNode } from '../../test/e2e/cluster-nodes.ts';

const { values } = parseArgs({
  options: {
    changes: { type: 'string', default: '100' },
    messages: { type: 'string', default: '600' },
    clients: { type: 'string', default: '12' },
    keep: { type: 'boolean', default: false },
  },
});
const CHANGES = Number(values.changes);
const MESSAGES = Number(values.messages);
const CLIENTS = Number(values.clients);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Commit-to-last-node times (ms) for `changes` successive policy commits. */
async function measurePropagation(store: PostgresStore, db: pg.Client, nodeCount: number, changes: number): Promise<number[]> {
  const lags: number[] = [];
  for (let i = 0; i < changes; i++) {
    const { document } = await store.readPolicy();
    // Alternate a harmless switch so every commit is a real change.
    const saved = await store.writePolicy({ ...document, rejectDirectSendHeaderFrom: i % 2 ? 'report' : 'off' }, 'bench', 'org.set');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await db.query<{ lag_ms: number | null; behind: string }>(`SELECT
          (SELECT extract(epoch FROM max(n.policy_applied_at) - (SELECT time FROM audit ORDER BY id DESC LIMIT 1)) * 1000
             FROM nodes n WHERE n.policy_version >= $1)::float8 AS lag_ms,
          (SELECT count(*) FROM nodes n WHERE n.policy_version < $1 AND n.heartbeat > now() - interval '10 seconds') AS behind`, [saved.version]);
      if (Number(rows[0].behind) === 0 && rows[0].lag_ms !== null) { lags.push(rows[0].lag_ms); break; }
      if (Date.now() > deadline) throw new Error(`version ${saved.version} not applied on all ${nodeCount} nodes within 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return lags;
}

/** Messages per second for `count` messages from `clients` concurrent clients over `targets`. */
async function measureThroughput(targets: ServeNode[], count: number, clients: number, label: string): Promise<{ rate: number; accepted: number }> {
  let next = 0;
  let accepted = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (next < count) {
      const i = next++;
      const node = targets[(i + c) % targets.length];
      const sender = `bench-${label}-${i}@fabrikam.test`;
      const client = await SmtpClient.connect(node.port);
      try {
        const r = await client.send(sender, ['alice@contoso.test'], testMessage({ from: `<${sender}>`, to: 'alice@contoso.test', subject: `bench ${i}`, headers: [`X-Test-Token: ${label}-${i}`] }));
        if (r.code === 250) accepted++;
      } finally {
        client.close();
      }
    }
  }));
  return { rate: accepted / ((performance.now() - started) / 1000), accepted };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'mxward-bench-cluster-'));
  const postgres = await startPrivatePostgres();
  const nodes: ServeNode[] = [];
  const downstream = await startCountingDownstream();
  let store: PostgresStore | null = null;
  const db = new pg.Client({ connectionString: postgres.url });
  try {
    const config = {
      policyPollMs: 1000, auth: { enabled: false },
      delivery: { default: { type: 'smtp', host: '127.0.0.1', port: downstream.port, starttls: 'off' }, rescanSeconds: 0.5 },
    };
    for (const name of ['node-a', 'node-b', 'node-c']) nodes.push(await startServeNode({ name, root, storeUrl: postgres.url, config }));
    store = await PostgresStore.open(postgres.url);
    await store.writePolicy({ ...defaultPolicy(), rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off',
      acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }, 'bench', 'setup');
    await db.connect();

    const lags = await measurePropagation(store, db, nodes.length, CHANGES);
    const one = await measureThroughput([nodes[0]], MESSAGES, CLIENTS, 'one');
    const three = await measureThroughput(nodes, MESSAGES, CLIENTS, 'three');

    const lines = [
      `mxward cluster bench: 3 serve processes on one PostgreSQL, ${cpus().length} CPU(s), Node ${process.version}`,
      '',
      '| measure | value |',
      '|---|---|',
      `| policy commit to last of 3 nodes applying it, median (${lags.length} changes) | ${median(lags).toFixed(1)} ms |`,
      `| policy commit to last of 3 nodes applying it, max | ${Math.max(...lags).toFixed(1)} ms |`,
      `| accept path, 1 node (${one.accepted}/${MESSAGES} accepted, ${CLIENTS} clients) | ${one.rate.toFixed(0)} msg/s |`,
      `| accept path, 3 nodes (${three.accepted}/${MESSAGES} accepted, ${CLIENTS} clients) | ${three.rate.toFixed(0)} msg/s |`,
      `| 3 nodes / 1 node | ${(three.rate / one.rate).toFixed(2)} |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await db.end().catch(() => {});
    await store?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await downstream.close();
    await postgres.dispose();
    if (values.keep) process.stdout.write(`kept ${root}\n`);
    else await rm(root, { recursive: true, force: true });
  }
}

await main();
