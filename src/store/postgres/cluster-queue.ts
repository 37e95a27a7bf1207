// The cluster queue on PostgreSQL (issue 14, docs/cluster.md). A node's spool is on its own disk,
// so the database holds only what the others need: each node's queue as it last published it
// (node_queue, replaced with every heartbeat) and commands for a message another node owns
// (queue_commands). The owner polls for its commands, runs them on its own spool and writes the
// result; the requester waits for that answer. Nothing here touches a spool.
import type { ClusterQueueStore, QueueActionResult, QueueCommand, QueueEntry } from '../ports.ts';
import type { PgDatabase } from './pool.ts';

export function clusterQueueOn(db: PgDatabase): ClusterQueueStore {
  return {
    async publishQueue(nodeId: string, entries: QueueEntry[]): Promise<void> {
      // One transaction: a reader sees the old snapshot or the new one, never half of each.
      await db.transaction(async (client) => {
        await client.query('DELETE FROM node_queue WHERE node_id = $1', [nodeId]);
        if (entries.length === 0) return;
        await client.query(`INSERT INTO node_queue (node_id, queue_id, entry)
          SELECT $1, e->>'queueId', e FROM jsonb_array_elements($2::jsonb) AS e`, [nodeId, JSON.stringify(entries)]);
      });
    },

    async listClusterQueue() {
      const { rows } = await db.query<{ node_id: string; entry: QueueEntry; age_ms: number | null }>(`SELECT q.node_id, q.entry,
          (extract(epoch FROM now() - n.heartbeat) * 1000)::float8 AS age_ms
        FROM node_queue q LEFT JOIN nodes n ON n.node_id = q.node_id
        ORDER BY q.entry->>'receivedAt', q.queue_id`);
      return rows.map((r) => ({ ...r.entry, node: r.node_id, heartbeatAgeMs: r.age_ms === null ? Number.POSITIVE_INFINITY : Math.max(0, Math.round(r.age_ms)) }));
    },

    async queueOwners(queueIds: string[]): Promise<Map<string, string>> {
      if (queueIds.length === 0) return new Map();
      // The freshest publisher wins if an id ever appeared twice (a node renamed between beats).
      const { rows } = await db.query<{ queue_id: string; node_id: string }>(`SELECT DISTINCT ON (q.queue_id) q.queue_id, q.node_id
        FROM node_queue q LEFT JOIN nodes n ON n.node_id = q.node_id
        WHERE q.queue_id = ANY($1::text[]) ORDER BY q.queue_id, n.heartbeat DESC NULLS LAST`, [queueIds]);
      return new Map(rows.map((r) => [r.queue_id, r.node_id]));
    },

    async requestQueueCommand(command: Omit<QueueCommand, 'id'>): Promise<number> {
      const row = await db.one<{ id: string }>('INSERT INTO queue_commands (node_id, action, queue_ids, actor) VALUES ($1, $2, $3::jsonb, $4) RETURNING id',
        [command.nodeId, command.action, JSON.stringify(command.queueIds), command.actor]);
      return Number(row!.id);
    },

    async pendingQueueCommands(nodeId: string): Promise<QueueCommand[]> {
      const { rows } = await db.query<{ id: string; node_id: string; action: QueueCommand['action']; queue_ids: string[]; actor: string }>(
        'SELECT id, node_id, action, queue_ids, actor FROM queue_commands WHERE node_id = $1 AND done_at IS NULL ORDER BY id', [nodeId]);
      return rows.map((r) => ({ id: Number(r.id), nodeId: r.node_id, action: r.action, queueIds: r.queue_ids, actor: r.actor }));
    },

    async completeQueueCommand(id: number, result: QueueActionResult): Promise<void> {
      await db.query('UPDATE queue_commands SET done_at = now(), result = $2::jsonb WHERE id = $1', [id, JSON.stringify(result)]);
    },

    async queueCommandResult(id: number): Promise<QueueActionResult | null> {
      const row = await db.one<{ result: QueueActionResult | null }>('SELECT result FROM queue_commands WHERE id = $1 AND done_at IS NOT NULL', [id]);
      return row?.result ?? null;
    },

    async cancelQueueCommand(id: number): Promise<boolean> {
      const result = await db.query('DELETE FROM queue_commands WHERE id = $1 AND done_at IS NULL', [id]);
      return (result.rowCount ?? 0) > 0;
    },

    async pruneQueueCommands(answeredBeforeMs: number): Promise<number> {
      const result = await db.query(`DELETE FROM queue_commands WHERE done_at < now() - make_interval(secs => $1::float8 / 1000)`, [answeredBeforeMs]);
      return result.rowCount ?? 0;
    },
  };
}
