// The nodes table on PostgreSQL (issue 14): each node upserts its row on every heartbeat; ages
// are computed with the server's clock, so `mxward nodes` and `org set --wait` do not depend on
// the nodes' clocks agreeing.
import type { NodeReport, NodeStatus } from '../ports.ts';
import type { PgDatabase } from './pool.ts';

export async function recordNodeRow(db: PgDatabase, r: NodeReport): Promise<void> {
  // policy_applied_at moves only with the version: the first report of a version is its time.
  await db.query(`INSERT INTO nodes (node_id, address, mxward_version, policy_version, started_at, heartbeat, queue_depth, quarantine_count, store_outage, policy_applied_at)
    VALUES ($1, $2, $3, $4, $5::timestamptz, now(), $6, $7, $8, now())
    ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, mxward_version = excluded.mxward_version,
      policy_applied_at = CASE WHEN nodes.policy_version = excluded.policy_version AND nodes.policy_applied_at IS NOT NULL
        THEN nodes.policy_applied_at ELSE now() END,
      policy_version = excluded.policy_version, started_at = excluded.started_at, heartbeat = now(),
      queue_depth = excluded.queue_depth, quarantine_count = excluded.quarantine_count, store_outage = excluded.store_outage`,
  [r.nodeId, r.address, r.mxwardVersion, r.policyVersion, r.startedAt, r.queueDepth, r.quarantineCount, r.storeOutage]);
}

interface NodeRow {
  node_id: string; address: string; mxward_version: string; policy_version: number; started_at: Date;
  heartbeat: Date; age_ms: number; queue_depth: number; quarantine_count: number; store_outage: string | null; policy_applied_at: Date | null;
}

export async function listNodeRows(db: PgDatabase): Promise<NodeStatus[]> {
  const { rows } = await db.query<NodeRow>(`SELECT node_id, address, mxward_version, policy_version, started_at, heartbeat,
      (extract(epoch FROM now() - heartbeat) * 1000)::float8 AS age_ms, queue_depth, quarantine_count, store_outage, policy_applied_at
    FROM nodes ORDER BY node_id`);
  return rows.map((r) => ({
    nodeId: r.node_id, address: r.address, mxwardVersion: r.mxward_version, policyVersion: r.policy_version,
    startedAt: r.started_at.toISOString(), heartbeat: r.heartbeat.toISOString(), heartbeatAgeMs: Math.max(0, Math.round(r.age_ms)),
    queueDepth: r.queue_depth, quarantineCount: r.quarantine_count, storeOutage: r.store_outage,
    policyAppliedAt: r.policy_applied_at?.toISOString() ?? null,
  }));
}
