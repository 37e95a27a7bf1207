// The quarantine tables (migration step 3) behind the QuarantineStore port. A connection of its
// own to the same WAL database as SqliteStore, so the gateway and the CLI share state and the
// main store class does not grow; audit entries go to the same audit table.
import { DatabaseSync } from 'node:sqlite';
import { inTransaction } from './transaction.ts';
import type { QuarantineAudit, QuarantineFilter, QuarantineItem, QuarantineRecipient, QuarantineRecipientState, QuarantineStore } from '../ports.ts';
import { migrate } from './migrations.ts';

type Row = Record<string, string | number | null>;

export class SqliteQuarantineStore implements QuarantineStore {
  readonly #db: DatabaseSync;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    migrate(this.#db);
  }

  async addQuarantined(item: QuarantineItem): Promise<void> {
    this.#transaction(() => {
      this.#db.prepare(`INSERT INTO quarantine (id, time, expires, transaction_id, policy, kind, mail_from, header_from, subject, size_bytes, reason, prepend_headers, file)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(item.id, item.time, item.expires, item.transactionId, item.policy, item.kind,
        item.mailFrom, JSON.stringify(item.headerFrom), item.subject, item.sizeBytes, item.reason, item.prependHeaders, item.file);
      const insert = this.#db.prepare('INSERT OR IGNORE INTO quarantine_recipients (quarantine_id, address, state) VALUES (?, ?, ?)');
      for (const r of item.recipients) insert.run(item.id, r.address.toLowerCase(), r.state);
      this.#audit({ actor: 'gateway', action: 'quarantine.add', detail: { id: item.id, policy: item.policy, kind: item.kind, recipients: item.recipients.map((r) => r.address) } });
    });
  }

  async getQuarantined(id: string): Promise<QuarantineItem | null> {
    const row = this.#db.prepare('SELECT * FROM quarantine WHERE id = ?').get(id) as Row | undefined;
    return row ? this.#item(row) : null;
  }

  async listQuarantined(filter: QuarantineFilter): Promise<QuarantineItem[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const states = filter.states ?? [];
    if (filter.recipient || states.length > 0) {
      const sub: string[] = ['r.quarantine_id = q.id'];
      if (filter.recipient) { sub.push('r.address = ?'); args.push(filter.recipient.toLowerCase()); }
      if (states.length > 0) { sub.push(`r.state IN (${states.map(() => '?').join(',')})`); args.push(...states); }
      where.push(`EXISTS (SELECT 1 FROM quarantine_recipients r WHERE ${sub.join(' AND ')})`);
    }
    args.push(filter.limit ?? 1000);
    const rows = this.#db.prepare(`SELECT * FROM quarantine q ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id LIMIT ?`).all(...args) as Row[];
    return rows.map((row) => this.#item(row));
  }

  async transition(id: string, addresses: string[] | null, from: QuarantineRecipientState[], to: QuarantineRecipientState, releaseQueueId: string | null, audit: QuarantineAudit | null): Promise<string[]> {
    return this.#transaction(() => {
      const candidates = (this.#db.prepare(`SELECT address FROM quarantine_recipients WHERE quarantine_id = ? AND state IN (${from.map(() => '?').join(',')}) ORDER BY address`)
        .all(id, ...from) as Array<{ address: string }>).map((r) => r.address);
      const wanted = addresses ? new Set(addresses.map((a) => a.toLowerCase())) : null;
      const moving = candidates.filter((a) => !wanted || wanted.has(a));
      const update = this.#db.prepare('UPDATE quarantine_recipients SET state = ?, release_queue_id = COALESCE(?, release_queue_id) WHERE quarantine_id = ? AND address = ?');
      for (const address of moving) update.run(to, releaseQueueId, id, address);
      if (audit && moving.length > 0) this.#audit({ ...audit, detail: { id, recipients: moving, from, to, releaseQueueId, ...(audit.detail as object) } });
      return moving;
    });
  }

  async listReleasing(): Promise<Array<{ id: string; queueId: string; addresses: string[] }>> {
    const rows = this.#db.prepare("SELECT quarantine_id, release_queue_id, address FROM quarantine_recipients WHERE state = 'releasing' ORDER BY quarantine_id").all() as Row[];
    const byQueue = new Map<string, { id: string; queueId: string; addresses: string[] }>();
    for (const r of rows) {
      const key = String(r.release_queue_id);
      const entry = byQueue.get(key) ?? { id: String(r.quarantine_id), queueId: key, addresses: [] };
      entry.addresses.push(String(r.address));
      byQueue.set(key, entry);
    }
    return [...byQueue.values()];
  }

  async attachReleaseToTrace(transactionId: string, queueId: string): Promise<void> {
    // The record copy too, so `mxward trace` shows the release's queue id next to its delivery.
    this.#db.prepare("UPDATE trace SET queue_id = ?, delivery_status = 'queued', record = json_set(record, '$.queueId', ?) WHERE transaction_id = ?").run(queueId, queueId, transactionId);
  }

  async deliveryStatusOf(queueId: string): Promise<string | null> {
    const row = this.#db.prepare('SELECT delivery_status FROM trace WHERE queue_id = ? ORDER BY seq DESC LIMIT 1').get(queueId) as Row | undefined;
    return row ? String(row.delivery_status) : null;
  }

  async pendingNotifications(policies: string[]): Promise<Map<string, QuarantineItem[]>> {
    const out = new Map<string, QuarantineItem[]>();
    if (policies.length === 0) return out;
    const rows = this.#db.prepare(`SELECT r.address, q.* FROM quarantine_recipients r JOIN quarantine q ON q.id = r.quarantine_id
      WHERE r.state = 'held' AND r.notified = 0 AND q.policy IN (${policies.map(() => '?').join(',')}) ORDER BY q.time`).all(...policies) as Row[];
    for (const row of rows) {
      const list = out.get(String(row.address)) ?? [];
      list.push(this.#item(row));
      out.set(String(row.address), list);
    }
    return out;
  }

  async lastDigest(address: string): Promise<string | null> {
    const row = this.#db.prepare('SELECT last_sent FROM quarantine_digests WHERE address = ?').get(address.toLowerCase()) as Row | undefined;
    return row ? String(row.last_sent) : null;
  }

  async recordDigest(address: string, time: string, itemIds: string[]): Promise<void> {
    this.#transaction(() => {
      this.#db.prepare('INSERT INTO quarantine_digests (address, last_sent) VALUES (?, ?) ON CONFLICT(address) DO UPDATE SET last_sent = excluded.last_sent').run(address.toLowerCase(), time);
      const mark = this.#db.prepare('UPDATE quarantine_recipients SET notified = 1 WHERE quarantine_id = ? AND address = ?');
      for (const id of itemIds) mark.run(id, address.toLowerCase());
      this.#audit({ actor: 'gateway', action: 'quarantine.notify', detail: { recipient: address, ids: itemIds } });
    });
  }

  async listExpired(now: string): Promise<QuarantineItem[]> {
    const rows = this.#db.prepare('SELECT * FROM quarantine WHERE expires <= ? ORDER BY expires LIMIT 500').all(now) as Row[];
    return rows.map((row) => this.#item(row));
  }

  async removeQuarantined(id: string, audit: QuarantineAudit): Promise<void> {
    this.#transaction(() => {
      this.#db.prepare('DELETE FROM quarantine WHERE id = ?').run(id);
      this.#audit(audit);
    });
  }

  async appendQuarantineAudit(audit: QuarantineAudit): Promise<void> {
    this.#audit(audit);
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  #item(row: Row): QuarantineItem {
    const recipients = (this.#db.prepare('SELECT address, state, release_queue_id, notified FROM quarantine_recipients WHERE quarantine_id = ? ORDER BY address').all(String(row.id)) as Row[])
      .map((r): QuarantineRecipient => ({ address: String(r.address), state: String(r.state) as QuarantineRecipientState, releaseQueueId: r.release_queue_id === null ? null : String(r.release_queue_id), notified: Number(r.notified) === 1 }));
    return {
      id: String(row.id), time: String(row.time), expires: String(row.expires), transactionId: String(row.transaction_id),
      policy: String(row.policy), kind: String(row.kind), mailFrom: row.mail_from === null ? null : String(row.mail_from),
      headerFrom: JSON.parse(String(row.header_from)), subject: row.subject === null ? null : String(row.subject),
      sizeBytes: Number(row.size_bytes), reason: String(row.reason), prependHeaders: String(row.prepend_headers), file: String(row.file), recipients,
    };
  }

  #audit(audit: QuarantineAudit): void {
    this.#db.prepare('INSERT INTO audit (time, actor, action, old, new) VALUES (?, ?, ?, NULL, ?)')
      .run(new Date().toISOString(), audit.actor, audit.action, JSON.stringify(audit.detail ?? null));
  }

  #transaction<T>(fn: () => T): T {
    return inTransaction(this.#db, fn);
  }
}
