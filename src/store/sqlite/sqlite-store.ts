// The embedded store: one SQLite file in the data directory (node:sqlite). WAL mode lets the
// gateway read while the CLI writes; busy_timeout makes concurrent writers wait, not fail.
import { DatabaseSync } from 'node:sqlite';
import { inTransaction } from './transaction.ts';
import type { StatementSync } from 'node:sqlite';
import type { PolicyDocument } from '../../config/policy-schema.ts';
import { defaultPolicy, policySchema, storedPolicySchema } from '../../config/policy-schema.ts';
import type { TraceRecord } from '../../domain/types.ts';
import type { AuditEntry, DeliveryUpdate, NodeReport, NodeStatus, Store, StoredPolicy, StoredUser, TraceFilter, TraceWriteOptions } from '../ports.ts';
import { migrate } from './migrations.ts';
import { listNodeRows, recordNodeRow } from './node-registry.ts';
import { WriteBatch } from './write-batch.ts';

export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #insertTrace: StatementSync;
  readonly #readVersion: StatementSync;
  readonly #updateDelivery: StatementSync;
  /** Trace inserts and delivery updates, committed together per event-loop turn (write-batch.ts). */
  readonly #traceWrites: WriteBatch;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    // busy_timeout first: the journal_mode pragma already takes a lock, and before the timeout is
    // set a connection opened while another holds one (a burst of report workers, the CLI beside
    // a busy gateway) fails at once with 'database is locked' instead of waiting.
    this.#db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    migrate(this.#db);
    this.#insertTrace = this.#db.prepare(`INSERT INTO trace (transaction_id, time, session_id, remote_ip, mail_from, recipients, direct_send, verdict, queue_id, delivery_status, record, node)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#readVersion = this.#db.prepare('SELECT version FROM policy WHERE id = 1');
    this.#updateDelivery = this.#db.prepare(`UPDATE trace SET delivery_status = ?, delivery_detail = ?, delivery_attempts = coalesce(?, delivery_attempts),
      delivery_reply = coalesce(?, delivery_reply), delivery_time = ? WHERE queue_id = ?`);
    this.#traceWrites = new WriteBatch(this.#db);
  }

  async readPolicy(): Promise<StoredPolicy> {
    const row = this.#db.prepare('SELECT version, document FROM policy WHERE id = 1').get() as { version: number; document: string } | undefined;
    if (!row) return { document: defaultPolicy(), version: 0 };
    return { document: storedPolicySchema.parse(JSON.parse(row.document)), version: row.version };
  }

  async readPolicyVersion(): Promise<number> {
    const row = this.#readVersion.get() as { version: number } | undefined;
    return row?.version ?? 0;
  }

  async writePolicy(next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy> {
    return this.#writePolicy(null, next, actor, action)!;
  }

  async writePolicyIfVersion(expectedVersion: number, next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy | null> {
    return this.#writePolicy(expectedVersion, next, actor, action);
  }

  #writePolicy(expectedVersion: number | null, next: PolicyDocument, actor: string, action: string): StoredPolicy | null {
    const validated = policySchema.parse(next);
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT version, document FROM policy WHERE id = 1').get() as { version: number; document: string } | undefined;
      if (expectedVersion !== null && (row?.version ?? 0) !== expectedVersion) return null;
      const version = (row?.version ?? 0) + 1;
      const text = JSON.stringify(validated);
      this.#db.prepare('INSERT INTO policy (id, version, document) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET version = excluded.version, document = excluded.document')
        .run(version, text);
      this.#insertAudit(actor, action, row ? JSON.parse(row.document) : null, validated);
      return { document: validated, version };
    });
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    const rows = this.#db.prepare('SELECT id, time, actor, action, old, new FROM audit ORDER BY id DESC LIMIT ?').all(limit) as Array<Record<string, string | number>>;
    return rows.map((r) => ({
      id: Number(r.id), time: String(r.time), actor: String(r.actor), action: String(r.action),
      old: r.old === null ? null : JSON.parse(String(r.old)), new: r.new === null ? null : JSON.parse(String(r.new)),
    }));
  }

  async appendAudit(actor: string, action: string, old: unknown, next: unknown): Promise<void> {
    this.#insertAudit(actor, action, old, next);
  }

  async getUser(username: string): Promise<StoredUser | null> {
    const row = this.#db.prepare('SELECT username, password_hash, addresses FROM users WHERE username = ?').get(username) as Record<string, string> | undefined;
    return row ? { username: row.username, passwordHash: row.password_hash, addresses: JSON.parse(row.addresses) } : null;
  }

  async putUser(user: StoredUser, actor: string): Promise<void> {
    this.#transaction(() => {
      const old = this.#db.prepare('SELECT addresses FROM users WHERE username = ?').get(user.username) as { addresses: string } | undefined;
      this.#db.prepare('INSERT INTO users (username, password_hash, addresses) VALUES (?, ?, ?) ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, addresses = excluded.addresses')
        .run(user.username, user.passwordHash, JSON.stringify(user.addresses));
      // The audit shows who changed which user; the hash never leaves the users table.
      this.#insertAudit(actor, old ? 'user.update' : 'user.add', old ? { username: user.username, addresses: JSON.parse(old.addresses) } : null, { username: user.username, addresses: user.addresses });
    });
  }

  async removeUser(username: string, actor: string): Promise<boolean> {
    return this.#transaction(() => {
      const result = this.#db.prepare('DELETE FROM users WHERE username = ?').run(username);
      if (result.changes > 0) this.#insertAudit(actor, 'user.remove', { username }, null);
      return result.changes > 0;
    });
  }

  async listUsers(): Promise<StoredUser[]> {
    const rows = this.#db.prepare('SELECT username, password_hash, addresses FROM users ORDER BY username').all() as Array<Record<string, string>>;
    return rows.map((row) => ({ username: row.username, passwordHash: row.password_hash, addresses: JSON.parse(row.addresses) }));
  }

  async appendTrace(r: TraceRecord, options?: TraceWriteOptions): Promise<void> {
    const args = [r.transactionId, r.time, r.sessionId, r.remoteIp, r.mailFrom ?? '', [...r.recipients, ...(r.rejectedRecipients ?? [])].join(' ').toLowerCase(),
      r.directSend ?? null, r.verdict, r.queueId, r.deliveryStatus, JSON.stringify(r), r.node ?? null] as const;
    await this.#traceWrites.run(() => { this.#insertTrace.run(...args); }, options);
  }

  async queryTrace(filter: TraceFilter): Promise<TraceRecord[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (filter.since) { where.push('time >= ?'); args.push(filter.since); }
    if (filter.ip) { where.push('remote_ip = ?'); args.push(filter.ip); }
    // instr, not LIKE: a `%` or `_` the user typed is a character, not a wildcard (as strpos on PostgreSQL).
    if (filter.sender) { where.push('instr(lower(mail_from), ?) > 0'); args.push(filter.sender.toLowerCase()); }
    if (filter.recipient) { where.push('instr(lower(recipients), ?) > 0'); args.push(filter.recipient.toLowerCase()); }
    if (filter.directSend) where.push('direct_send IS NOT NULL');
    if (filter.verdict) { where.push('verdict = ?'); args.push(filter.verdict); }
    if (filter.node) { where.push('node = ?'); args.push(filter.node); }
    if (filter.until) { where.push('time < ?'); args.push(filter.until); }
    if (filter.directSendKind) { where.push('direct_send = ?'); args.push(filter.directSendKind); }
    if (filter.transactionId) { where.push('transaction_id = ?'); args.push(filter.transactionId); }
    const byTime = filter.order === 'time';
    if (byTime && filter.after) {
      // A row value, so the (time, transaction_id) indexes bound the range (migrations.ts).
      where.push('(time, transaction_id) < (?, ?)');
      args.push(filter.after.time, filter.after.transactionId);
    }
    const order = byTime ? 'time DESC, transaction_id DESC' : 'seq DESC';
    const sql = `SELECT record, delivery_status, delivery_attempts, delivery_reply, delivery_detail, delivery_time FROM trace ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`;
    args.push(filter.limit ?? 1000);
    const rows = this.#db.prepare(sql).all(...args) as Array<{ record: string; delivery_status: string; delivery_attempts: number; delivery_reply: string | null; delivery_detail: string | null; delivery_time: string | null }>;
    return rows.map((row) => ({
      ...JSON.parse(row.record), deliveryStatus: row.delivery_status,
      deliveryAttempts: Number(row.delivery_attempts), deliveryReply: row.delivery_reply, deliveryDetail: row.delivery_detail, deliveryTime: row.delivery_time,
    }));
  }

  /**
   * The sequence numbers of one time window's records, newest first as queryTrace orders by
   * time: read from the (time, transaction_id) index alone. With recordsBySeq, a reader that
   * keeps records it parsed before (the console's dashboard, services/dashboard-records.ts)
   * reads and parses only the records it has not seen.
   */
  traceSeqsInWindow(since: string, until: string, limit: number): number[] {
    const rows = this.#db.prepare('SELECT seq FROM trace WHERE time >= ? AND time < ? ORDER BY time DESC, transaction_id DESC LIMIT ?').all(since, until, limit) as Array<{ seq: number }>;
    return rows.map((r) => Number(r.seq));
  }

  /** The stored records (as written, without delivery progress) of these sequence numbers, in no order. */
  traceRecordsBySeq(seqs: readonly number[]): Array<{ seq: number; record: string }> {
    if (seqs.length === 0) return [];
    const rows = this.#db.prepare('SELECT seq, record FROM trace WHERE seq IN (SELECT value FROM json_each(?))').all(JSON.stringify(seqs)) as Array<{ seq: number; record: string }>;
    return rows.map((r) => ({ seq: Number(r.seq), record: r.record }));
  }

  async updateDelivery(update: DeliveryUpdate, options?: TraceWriteOptions): Promise<void> {
    const time = new Date().toISOString();
    await this.#traceWrites.run(() => {
      this.#updateDelivery.run(update.status, update.detail, update.attempts ?? null, update.lastReply ?? null, time, update.queueId);
    }, options);
  }

  async purgeTraceBefore(before: string): Promise<number> {
    // Queued writes first, so a record appended before the purge is judged like the others.
    this.#traceWrites.flush();
    const result = this.#db.prepare('DELETE FROM trace WHERE time < ?').run(before);
    return Number(result.changes);
  }

  async recordNode(report: NodeReport): Promise<void> {
    recordNodeRow(this.#db, report);
  }

  async listNodes(): Promise<NodeStatus[]> {
    return listNodeRows(this.#db);
  }

  async close(): Promise<void> {
    if (!this.#db.isOpen) return;
    this.#traceWrites.flush();
    this.#db.close();
  }

  #insertAudit(actor: string, action: string, old: unknown, next: unknown): void {
    this.#db.prepare('INSERT INTO audit (time, actor, action, old, new) VALUES (?, ?, ?, ?, ?)')
      .run(new Date().toISOString(), actor, action, old === null ? null : JSON.stringify(old), next === null ? null : JSON.stringify(next));
  }

  #transaction<T>(fn: () => T): T {
    return inTransaction(this.#db, fn);
  }
}
