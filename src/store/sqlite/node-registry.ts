// The nodes table on SQLite (issue 14): the same rows as on PostgreSQL. One machine shares one
// clock, so the heartbeat age is computed here rather than by the database.
import type { DatabaseSync } from 'node:sqlite';
import type { NodeReport, NodeStatus } from '../ports.ts';

export function recordNodeRow(db: DatabaseSync, r: NodeReport, now: Date = new Date()): void {
  db.prepare(`INSERT INTO nodes (node_id, address, mxward_version, policy_version, started_at, heartbeat, queue_depth, quarantine_count, store_outage, policy_applied_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, mxward_version = excluded.mxward_version,
      policy_applied_at = CASE WHEN nodes.policy_version = excluded.policy_version AND nodes.policy_applied_at IS NOT NULL
        THEN nodes.policy_applied_at ELSE excluded.policy_applied_at END,
      policy_version = excluded.policy_version, started_at = excluded.started_at, heartbeat = excluded.heartbeat,
      queue_depth = excluded.queue_depth, quarantine_count = excluded.quarantine_count, store_outage = excluded.store_outage`)
    .run(r.nodeId, r.address, r.mxwardVersion, r.policyVersion, r.startedAt, now.toISOString(), r.queueDepth, r.quarantineCount, r.storeOutage, now.toISOString());
}

export function listNodeRows(db: DatabaseSync, now: Date = new Date()): NodeStatus[] {
  const rows = db.prepare('SELECT * FROM nodes ORDER BY node_id').all() as Array<Record<string, string | number | null>>;
  return rows.map((r) => ({
    nodeId: String(r.node_id), address: String(r.address), mxwardVersion: String(r.mxward_version), policyVersion: Number(r.policy_version),
    startedAt: String(r.started_at), heartbeat: String(r.heartbeat), heartbeatAgeMs: Math.max(0, now.getTime() - Date.parse(String(r.heartbeat))),
    queueDepth: Number(r.queue_depth), quarantineCount: Number(r.quarantine_count), storeOutage: r.store_outage === null ? null : String(r.store_outage),
    policyAppliedAt: r.policy_applied_at === null || r.policy_applied_at === undefined ? null : String(r.policy_applied_at),
  }));
}
