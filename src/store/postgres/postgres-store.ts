// The networked store: several gateway nodes and the CLI share one PostgreSQL database. Same
// contract as the SQLite store (test/store/store-contract.ts runs against both). Documents and
// trace records are JSONB; the trace also keeps its filter fields as indexed columns.
import type { PoolClient } from 'pg';
import type { PolicyDocument } from '../../config/policy-schema.ts';
import { defaultPolicy, policySchema, storedPolicySchema } from '../../config/policy-schema.ts';
import type { TraceRecord } from '../../domain/types.ts';
import type { AuditEntry, ClusterQueueStore, DeliveryUpdate, NodeReport, NodeStatus, PolicyWatch, Store, StoredPolicy, StoredUser, TraceFilter } from '../ports.ts';
import { clusterQueueOn } from './cluster-queue.ts';
import { listNodeRows, recordNodeRow } from './node-registry.ts';
import { listenForPolicyChanges } from './policy-listener.ts';
import { PgDatabase, STORE_LONG_QUERY_TIMEOUT_MS, whenReady } from './pool.ts';

export interface PostgresStoreOptions {
  /**
   * A gateway needs few connections: trace appends are short and the policy poll is one indexed
   * read. Keeping the pool small leaves the server's max_connections for many nodes.
   */
  maxConnections?: number;
}

type Queryable = Pick<PoolClient, 'query'>;

/** JSONB parameters go in as text: node-postgres would turn a JS array into a PostgreSQL array. */
function jsonParam(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function traceParams(r: TraceRecord): unknown[] {
  return [
    r.transactionId, r.time, r.sessionId, r.remoteIp, r.mailFrom ?? '',
    // Refused recipients are searchable too: "why did alice not get it" is the usual question.
    [...r.recipients, ...(r.rejectedRecipients ?? [])].join(' ').toLowerCase(),
    r.directSend ?? null, r.verdict, r.queueId, r.deliveryStatus, jsonParam(r), r.node ?? null,
  ];
}

export class PostgresStore implements Store {
  readonly #db: PgDatabase;
  readonly #url: string;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.#url = url;
    this.#db = new PgDatabase(url, options.maxConnections ?? 4, 'store');
  }

  /** Opens and waits until the schema is current; for callers that want to fail at start-up. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, options);
    return whenReady(store, store.#db.ready());
  }

  async readPolicy(): Promise<StoredPolicy> {
    const row = await this.#db.one<{ version: number; document: unknown }>('SELECT version, document FROM policy WHERE id = 1');
    if (!row || row.document === null) return { document: defaultPolicy(), version: row?.version ?? 0 };
    return { document: storedPolicySchema.parse(row.document), version: row.version };
  }

  async readPolicyVersion(): Promise<number> {
    const row = await this.#db.one<{ version: number }>('SELECT version FROM policy WHERE id = 1');
    return row?.version ?? 0;
  }

  async writePolicy(next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy> {
    const saved = await this.#writePolicy(null, next, actor, action);
    return saved!;
  }

  async writePolicyIfVersion(expectedVersion: number, next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy | null> {
    return this.#writePolicy(expectedVersion, next, actor, action);
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.#db.query<{ id: string; time: Date; actor: string; action: string; old: unknown; new: unknown }>(
      'SELECT id, time, actor, action, old, new FROM audit ORDER BY id DESC LIMIT $1', [limit]);
    return rows.map((r) => ({ id: Number(r.id), time: r.time.toISOString(), actor: r.actor, action: r.action, old: r.old, new: r.new }));
  }

  async appendAudit(actor: string, action: string, old: unknown, next: unknown): Promise<void> {
    await this.#insertAudit(await this.#db.pool(), actor, action, old, next);
  }

  async getUser(username: string): Promise<StoredUser | null> {
    const row = await this.#db.one<{ username: string; password_hash: string; addresses: string[] }>(
      'SELECT username, password_hash, addresses FROM users WHERE username = $1', [username]);
    return row ? { username: row.username, passwordHash: row.password_hash, addresses: row.addresses } : null;
  }

  async putUser(user: StoredUser, actor: string): Promise<void> {
    await this.#db.transaction(async (db) => {
      const { rows } = await db.query<{ addresses: string[] }>('SELECT addresses FROM users WHERE username = $1 FOR UPDATE', [user.username]);
      const old = rows[0];
      await db.query(`INSERT INTO users (username, password_hash, addresses) VALUES ($1, $2, $3::jsonb)
        ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, addresses = excluded.addresses`,
      [user.username, user.passwordHash, jsonParam(user.addresses)]);
      // As in SQLite: the audit says who changed which user; the hash stays in the users table.
      await this.#insertAudit(db, actor, old ? 'user.update' : 'user.add',
        old ? { username: user.username, addresses: old.addresses } : null, { username: user.username, addresses: user.addresses });
    });
  }

  async removeUser(username: string, actor: string): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      const result = await db.query('DELETE FROM users WHERE username = $1', [username]);
      const removed = (result.rowCount ?? 0) > 0;
      if (removed) await this.#insertAudit(db, actor, 'user.remove', { username }, null);
      return removed;
    });
  }

  async listUsers(): Promise<StoredUser[]> {
    const { rows } = await this.#db.query<{ username: string; password_hash: string; addresses: string[] }>(
      'SELECT username, password_hash, addresses FROM users ORDER BY username');
    return rows.map((row) => ({ username: row.username, passwordHash: row.password_hash, addresses: row.addresses }));
  }

  async appendTrace(r: TraceRecord): Promise<void> {
    await this.#db.query(`INSERT INTO trace (transaction_id, time, session_id, remote_ip, mail_from, recipients, direct_send, verdict, queue_id, delivery_status, record, node)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)`, traceParams(r));
  }

  async appendTraceOnce(r: TraceRecord): Promise<void> {
    await this.#db.query(`INSERT INTO trace (transaction_id, time, session_id, remote_ip, mail_from, recipients, direct_send, verdict, queue_id, delivery_status, record, node)
      SELECT $1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12
      WHERE NOT EXISTS (SELECT 1 FROM trace WHERE transaction_id = $1)`, traceParams(r));
  }

  async queryTrace(filter: TraceFilter): Promise<TraceRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (value: unknown) => { args.push(value); return `$${args.length}`; };
    if (filter.since) where.push(`time >= ${arg(filter.since)}::timestamptz`);
    if (filter.ip) where.push(`remote_ip = ${arg(filter.ip)}`);
    // strpos, not LIKE: a `_` or `%` in what the user typed is a character, not a wildcard.
    if (filter.sender) where.push(`strpos(lower(mail_from), ${arg(filter.sender.toLowerCase())}) > 0`);
    if (filter.recipient) where.push(`strpos(recipients, ${arg(filter.recipient.toLowerCase())}) > 0`);
    if (filter.directSend) where.push('direct_send IS NOT NULL');
    if (filter.verdict) where.push(`verdict = ${arg(filter.verdict)}`);
    if (filter.node) where.push(`node = ${arg(filter.node)}`);
    if (filter.until) where.push(`time < ${arg(filter.until)}::timestamptz`);
    if (filter.directSendKind) where.push(`direct_send = ${arg(filter.directSendKind)}`);
    if (filter.transactionId) where.push(`transaction_id = ${arg(filter.transactionId)}`);
    const byTime = filter.order === 'time';
    if (byTime && filter.after) where.push(`(time, transaction_id) < (${arg(filter.after.time)}::timestamptz, ${arg(filter.after.transactionId)})`);
    const order = byTime ? 'time DESC, transaction_id DESC' : 'seq DESC';
    const sql = `SELECT record, delivery_status, delivery_attempts, delivery_reply, delivery_detail, delivery_time FROM trace
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${arg(filter.limit ?? 1000)}`;
    // A search over a large trace (CLI, API, report) may take longer than a write on the SMTP path.
    const { rows } = await this.#db.query<{ record: TraceRecord; delivery_status: TraceRecord['deliveryStatus']; delivery_attempts: number; delivery_reply: string | null; delivery_detail: string | null; delivery_time: Date | null }>(sql, args, { timeoutMs: STORE_LONG_QUERY_TIMEOUT_MS });
    return rows.map((row) => ({
      ...row.record, deliveryStatus: row.delivery_status, deliveryAttempts: row.delivery_attempts,
      deliveryReply: row.delivery_reply, deliveryDetail: row.delivery_detail, deliveryTime: row.delivery_time?.toISOString() ?? null,
    }));
  }

  async updateDelivery(update: DeliveryUpdate): Promise<void> {
    await this.#db.query(`UPDATE trace SET delivery_status = $1, delivery_detail = $2, delivery_attempts = coalesce($3, delivery_attempts),
      delivery_reply = coalesce($4, delivery_reply), delivery_time = now() WHERE queue_id = $5`,
    [update.status, update.detail, update.attempts ?? null, update.lastReply ?? null, update.queueId]);
  }

  async purgeTraceBefore(before: string): Promise<number> {
    const result = await this.#db.query('DELETE FROM trace WHERE time < $1::timestamptz', [before], { timeoutMs: STORE_LONG_QUERY_TIMEOUT_MS });
    return result.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  async recordNode(report: NodeReport): Promise<void> {
    await recordNodeRow(this.#db, report);
  }

  async listNodes(): Promise<NodeStatus[]> {
    return listNodeRows(this.#db);
  }

  clusterQueue(): ClusterQueueStore {
    return clusterQueueOn(this.#db);
  }

  watchPolicy(onChange: () => void, onError: (err: Error) => void): PolicyWatch {
    return listenForPolicyChanges(this.#url, onChange, onError);
  }

  /**
   * The policy row is locked FOR UPDATE, so two writers (CLI and API, two CLIs on two hosts)
   * take turns: each sees the other's version, none is lost, and the audit order matches.
   */
  async #writePolicy(expectedVersion: number | null, next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy | null> {
    const validated = policySchema.parse(next);
    return this.#db.transaction(async (db) => {
      const { rows } = await db.query<{ version: number; document: unknown }>('SELECT version, document FROM policy WHERE id = 1 FOR UPDATE');
      const current = rows[0];
      if (!current) throw new Error('store schema is missing the policy row');
      if (expectedVersion !== null && current.version !== expectedVersion) return null;
      const version = current.version + 1;
      await db.query('UPDATE policy SET version = $1, document = $2::jsonb WHERE id = 1', [version, jsonParam(validated)]);
      await this.#insertAudit(db, actor, action, current.document, validated);
      return { document: validated, version };
    });
  }

  async #insertAudit(db: Queryable, actor: string, action: string, old: unknown, next: unknown): Promise<void> {
    await db.query('INSERT INTO audit (actor, action, old, new) VALUES ($1, $2, $3::jsonb, $4::jsonb)', [actor, action, jsonParam(old), jsonParam(next)]);
  }
}
