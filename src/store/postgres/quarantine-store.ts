// The quarantine tables (migration step 2) behind the QuarantineStore port, for gateways whose
// main store is PostgreSQL: held messages, release requests and the release guard are shared by
// every node and the CLI, audit entries go to the same audit table as policy changes, and a
// release is attached to the trace record the gateway wrote in this database. Same contract as
// the SQLite quarantine store (test/store/quarantine-contract.ts runs against both).
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { PoolClient } from 'pg';
import type { QuarantineAudit, QuarantineFilter, QuarantineItem, QuarantineRecipient, QuarantineRecipientState, QuarantineStore } from '../ports.ts';
import { PgDatabase, whenReady } from './pool.ts';
import type { PostgresStoreOptions } from './postgres-store.ts';

type Queryable = Pick<PoolClient, 'query'>;

interface ItemRow {
  id: string;
  time: Date;
  expires: Date;
  transaction_id: string;
  policy: string;
  kind: string;
  mail_from: string | null;
  header_from: string[];
  subject: string | null;
  size_bytes: string;
  reason: string;
  prepend_headers: string;
  file: string;
}

interface RecipientRow {
  quarantine_id: string;
  address: string;
  state: QuarantineRecipientState;
  release_queue_id: string | null;
  notified: boolean;
}

const ITEM_COLUMNS = 'q.id, q.time, q.expires, q.transaction_id, q.policy, q.kind, q.mail_from, q.header_from, q.subject, q.size_bytes, q.reason, q.prepend_headers, q.file';

export interface PostgresQuarantineOptions extends PostgresStoreOptions {
  /**
   * This node's quarantine directory (dataDir/quarantine). When given, the message file is stored
   * in the database with its row, and a node that lacks the file (the message was quarantined on
   * another node) gets a copy there before the quarantine service reads it (issue 14).
   */
  messageDir?: string;
}

export class PostgresQuarantineStore implements QuarantineStore {
  readonly #db: PgDatabase;
  readonly #messageDir: string | null;

  constructor(url: string, options: PostgresQuarantineOptions = {}) {
    // Quarantine traffic is light (one insert per quarantined message, CLI actions, a timer).
    this.#db = new PgDatabase(url, options.maxConnections ?? 2, 'quarantine store');
    this.#messageDir = options.messageDir ?? null;
  }

  static async open(url: string, options: PostgresQuarantineOptions = {}): Promise<PostgresQuarantineStore> {
    const store = new PostgresQuarantineStore(url, options);
    return whenReady(store, store.#db.ready());
  }

  async addQuarantined(item: QuarantineItem): Promise<void> {
    const content = await this.#readMessageFile(item.file);
    await this.#db.transaction(async (db) => {
      await db.query(`INSERT INTO quarantine (id, time, expires, transaction_id, policy, kind, mail_from, header_from, subject, size_bytes, reason, prepend_headers, file)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)`, [
        item.id, item.time, item.expires, item.transactionId, item.policy, item.kind, item.mailFrom, JSON.stringify(item.headerFrom),
        item.subject, item.sizeBytes, item.reason, item.prependHeaders, item.file,
      ]);
      // One statement for all recipients; a repeated address is kept once, as in SQLite.
      await db.query(`INSERT INTO quarantine_recipients (quarantine_id, address, state)
        SELECT $1, r.address, r.state FROM unnest($2::text[], $3::text[]) AS r (address, state) ON CONFLICT DO NOTHING`,
      [item.id, item.recipients.map((r) => r.address.toLowerCase()), item.recipients.map((r) => r.state)]);
      // In the same transaction: an item any node can list is an item any node can release.
      if (content) await db.query('INSERT INTO quarantine_messages (quarantine_id, content) VALUES ($1, $2)', [item.id, content]);
      await this.#insertAudit(db, { actor: 'gateway', action: 'quarantine.add', detail: { id: item.id, policy: item.policy, kind: item.kind, recipients: item.recipients.map((r) => r.address) } });
    });
  }

  async getQuarantined(id: string): Promise<QuarantineItem | null> {
    const [item] = await this.#items(`SELECT ${ITEM_COLUMNS} FROM quarantine q WHERE q.id = $1`, [id]);
    if (item) await this.#ensureLocalCopy(item);
    return item ?? null;
  }

  async #readMessageFile(file: string): Promise<Buffer | null> {
    if (!this.#messageDir) return null;
    try {
      return await readFile(join(this.#messageDir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * The quarantine service reads dataDir/quarantine/<file>; on a node other than the one that
   * quarantined the message, write it there from the database first (temp file, fsync, rename),
   * so preview, headers and release work unchanged. The database copy stays the reference.
   */
  async #ensureLocalCopy(item: QuarantineItem): Promise<void> {
    if (!this.#messageDir) return;
    const path = join(this.#messageDir, item.file);
    if (await access(path).then(() => true, () => false)) return;
    const row = await this.#db.one<{ content: Buffer }>('SELECT content FROM quarantine_messages WHERE quarantine_id = $1', [item.id]);
    if (!row) return;
    await mkdir(this.#messageDir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(4).toString('hex')}.part`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.write(row.content);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  }

  async listQuarantined(filter: QuarantineFilter): Promise<QuarantineItem[]> {
    const args: unknown[] = [];
    const arg = (value: unknown) => { args.push(value); return `$${args.length}`; };
    const states = filter.states ?? [];
    let where = '';
    if (filter.recipient || states.length > 0) {
      const sub: string[] = ['r.quarantine_id = q.id'];
      if (filter.recipient) sub.push(`r.address = ${arg(filter.recipient.toLowerCase())}`);
      if (states.length > 0) sub.push(`r.state = ANY(${arg(states)}::text[])`);
      where = `WHERE EXISTS (SELECT 1 FROM quarantine_recipients r WHERE ${sub.join(' AND ')})`;
    }
    return this.#items(`SELECT ${ITEM_COLUMNS} FROM quarantine q ${where} ORDER BY q.time DESC, q.id LIMIT ${arg(filter.limit ?? 1000)}`, args);
  }

  async transition(id: string, addresses: string[] | null, from: QuarantineRecipientState[], to: QuarantineRecipientState, releaseQueueId: string | null, audit: QuarantineAudit | null): Promise<string[]> {
    return this.#db.transaction(async (db) => {
      // One UPDATE is the guard: under READ COMMITTED a concurrent transition that changed a row
      // first makes this one re-check `state = ANY(from)` on the new version and skip the row,
      // so two releases racing for the same recipient cannot both move it.
      const { rows } = await db.query<{ address: string }>(`UPDATE quarantine_recipients
        SET state = $1, release_queue_id = coalesce($2, release_queue_id)
        WHERE quarantine_id = $3 AND state = ANY($4::text[]) AND ($5::text[] IS NULL OR address = ANY($5::text[]))
        RETURNING address`,
      [to, releaseQueueId, id, from, addresses ? addresses.map((a) => a.toLowerCase()) : null]);
      const moving = rows.map((r) => r.address).sort();
      if (audit && moving.length > 0) {
        await this.#insertAudit(db, { ...audit, detail: { id, recipients: moving, from, to, releaseQueueId, ...(audit.detail as object) } });
      }
      return moving;
    });
  }

  async listReleasing(): Promise<Array<{ id: string; queueId: string; addresses: string[] }>> {
    const { rows } = await this.#db.query<{ quarantine_id: string; release_queue_id: string; addresses: string[] }>(`SELECT quarantine_id, release_queue_id,
      array_agg(address ORDER BY address) AS addresses FROM quarantine_recipients WHERE state = 'releasing'
      GROUP BY quarantine_id, release_queue_id ORDER BY quarantine_id, release_queue_id`);
    return rows.map((r) => ({ id: r.quarantine_id, queueId: String(r.release_queue_id), addresses: r.addresses }));
  }

  async attachReleaseToTrace(transactionId: string, queueId: string): Promise<void> {
    // The record copy too, so `mxward trace` shows the release's queue id next to its delivery.
    await this.#db.query(`UPDATE trace SET queue_id = $1, delivery_status = 'queued', record = jsonb_set(record, '{queueId}', to_jsonb($1::text))
      WHERE transaction_id = $2`, [queueId, transactionId]);
  }

  async deliveryStatusOf(queueId: string): Promise<string | null> {
    const { rows } = await this.#db.query<{ delivery_status: string }>('SELECT delivery_status FROM trace WHERE queue_id = $1 ORDER BY seq DESC LIMIT 1', [queueId]);
    return rows[0]?.delivery_status ?? null;
  }

  async pendingNotifications(policies: string[]): Promise<Map<string, QuarantineItem[]>> {
    const out = new Map<string, QuarantineItem[]>();
    if (policies.length === 0) return out;
    const { rows } = await this.#db.query<ItemRow & { recipient: string }>(`SELECT r.address AS recipient, ${ITEM_COLUMNS}
      FROM quarantine_recipients r JOIN quarantine q ON q.id = r.quarantine_id
      WHERE r.state = 'held' AND NOT r.notified AND q.policy = ANY($1::text[]) ORDER BY q.time, q.id, r.address`, [policies]);
    const recipients = await this.#recipientsOf(await this.#db.pool(), rows.map((r) => r.id));
    for (const row of rows) {
      const list = out.get(row.recipient) ?? [];
      list.push(itemOf(row, recipients.get(row.id) ?? []));
      out.set(row.recipient, list);
    }
    return out;
  }

  async lastDigest(address: string): Promise<string | null> {
    const { rows } = await this.#db.query<{ last_sent: Date }>('SELECT last_sent FROM quarantine_digests WHERE address = $1', [address.toLowerCase()]);
    return rows[0] ? rows[0].last_sent.toISOString() : null;
  }

  async recordDigest(address: string, time: string, itemIds: string[]): Promise<void> {
    const recipient = address.toLowerCase();
    await this.#db.transaction(async (db) => {
      await db.query('INSERT INTO quarantine_digests (address, last_sent) VALUES ($1, $2) ON CONFLICT (address) DO UPDATE SET last_sent = excluded.last_sent', [recipient, time]);
      await db.query('UPDATE quarantine_recipients SET notified = true WHERE address = $1 AND quarantine_id = ANY($2::text[])', [recipient, itemIds]);
      await this.#insertAudit(db, { actor: 'gateway', action: 'quarantine.notify', detail: { recipient: address, ids: itemIds } });
    });
  }

  async listExpired(now: string): Promise<QuarantineItem[]> {
    return this.#items(`SELECT ${ITEM_COLUMNS} FROM quarantine q WHERE q.expires <= $1 ORDER BY q.expires, q.id LIMIT 500`, [now]);
  }

  async removeQuarantined(id: string, audit: QuarantineAudit): Promise<void> {
    await this.#db.transaction(async (db) => {
      await db.query('DELETE FROM quarantine WHERE id = $1', [id]);
      await this.#insertAudit(db, audit);
    });
  }

  async appendQuarantineAudit(audit: QuarantineAudit): Promise<void> {
    await this.#insertAudit(await this.#db.pool(), audit);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  /** Items with their recipients: one query for the items, one for all their recipients. */
  async #items(sql: string, args: unknown[]): Promise<QuarantineItem[]> {
    const pool = await this.#db.pool();
    const { rows } = await pool.query<ItemRow>(sql, args);
    const recipients = await this.#recipientsOf(pool, rows.map((r) => r.id));
    return rows.map((row) => itemOf(row, recipients.get(row.id) ?? []));
  }

  async #recipientsOf(db: Queryable, ids: string[]): Promise<Map<string, QuarantineRecipient[]>> {
    const out = new Map<string, QuarantineRecipient[]>();
    if (ids.length === 0) return out;
    const { rows } = await db.query<RecipientRow>(`SELECT quarantine_id, address, state, release_queue_id, notified FROM quarantine_recipients
      WHERE quarantine_id = ANY($1::text[]) ORDER BY quarantine_id, address`, [[...new Set(ids)]]);
    for (const r of rows) {
      const list = out.get(r.quarantine_id) ?? [];
      list.push({ address: r.address, state: r.state, releaseQueueId: r.release_queue_id, notified: r.notified });
      out.set(r.quarantine_id, list);
    }
    return out;
  }

  async #insertAudit(db: Queryable, audit: QuarantineAudit): Promise<void> {
    await db.query('INSERT INTO audit (actor, action, old, new) VALUES ($1, $2, NULL, $3::jsonb)', [audit.actor, audit.action, JSON.stringify(audit.detail ?? null)]);
  }
}

function itemOf(row: ItemRow, recipients: QuarantineRecipient[]): QuarantineItem {
  return {
    id: row.id, time: row.time.toISOString(), expires: row.expires.toISOString(), transactionId: row.transaction_id,
    policy: row.policy, kind: row.kind, mailFrom: row.mail_from, headerFrom: row.header_from, subject: row.subject,
    sizeBytes: Number(row.size_bytes), reason: row.reason, prependHeaders: row.prepend_headers, file: row.file, recipients,
  };
}
