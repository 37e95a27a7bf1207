// Console accounts, API tokens, sessions and the recipient-link key behind the IdentityStore port.
// A connection of its own to the same WAL database as SqliteStore, like the quarantine store, so
// the CLI (`mxward console account add`, `console link`) and a running gateway see the same rows.
import { DatabaseSync } from 'node:sqlite';
import type { ConsoleAccount, IdentityRole, IdentityStore, LinkKeyCandidate, StoredApiToken, StoredSession } from '../ports.ts';
import { migrate } from './migrations.ts';
import { inTransaction } from './transaction.ts';

type Row = Record<string, string | number | null>;

const str = (v: string | number | null): string | null => (v === null ? null : String(v));

export class SqliteIdentityStore implements IdentityStore {
  readonly #db: DatabaseSync;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    migrate(this.#db);
  }

  async getAccount(username: string): Promise<ConsoleAccount | null> {
    const row = this.#db.prepare('SELECT * FROM console_accounts WHERE username = ?').get(username) as Row | undefined;
    return row ? accountOf(row) : null;
  }

  async createAccount(account: ConsoleAccount): Promise<boolean> {
    return Number(this.#db.prepare('INSERT INTO console_accounts (username, role, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (username) DO NOTHING')
      .run(account.username, account.role, account.passwordHash, account.createdAt).changes) > 0;
  }

  async putAccount(account: ConsoleAccount): Promise<void> {
    this.#db.prepare(`INSERT INTO console_accounts (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (username) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash`)
      .run(account.username, account.role, account.passwordHash, account.createdAt);
  }

  async removeAccount(username: string): Promise<boolean> {
    return inTransaction(this.#db, () => {
      const removed = Number(this.#db.prepare('DELETE FROM console_accounts WHERE username = ?').run(username).changes) > 0;
      // A removed account must lose its open sessions at once, not when they expire.
      if (removed) this.#db.prepare("DELETE FROM console_sessions WHERE kind = 'session' AND name = ?").run(username);
      return removed;
    });
  }

  async listAccounts(): Promise<ConsoleAccount[]> {
    return (this.#db.prepare('SELECT * FROM console_accounts ORDER BY username').all() as Row[]).map(accountOf);
  }

  async addToken(t: StoredApiToken): Promise<void> {
    this.#db.prepare(`INSERT INTO api_tokens (id, name, role, scopes, token_hash, created_by, created_at, expires_at, revoked_at, last_used_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(t.id, t.name, t.role, JSON.stringify(t.scopes), t.tokenHash, t.createdBy, t.createdAt,
      t.expiresAt, t.revokedAt, t.lastUsedAt);
  }

  async findTokenByHash(tokenHash: string): Promise<StoredApiToken | null> {
    const row = this.#db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return row ? tokenOf(row) : null;
  }

  async listTokens(): Promise<StoredApiToken[]> {
    return (this.#db.prepare('SELECT * FROM api_tokens ORDER BY created_at, id').all() as Row[]).map(tokenOf);
  }

  async revokeToken(id: string, time: string): Promise<boolean> {
    return Number(this.#db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(time, id).changes) > 0;
  }

  async touchToken(id: string, time: string): Promise<void> {
    this.#db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(time, id);
  }

  async addSession(s: StoredSession): Promise<void> {
    this.#db.prepare(`INSERT INTO console_sessions (id_hash, kind, name, role, addresses, csrf_token, created_at, expires_at, credential)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(s.idHash, s.kind, s.name, s.role, JSON.stringify(s.addresses), s.csrfToken, s.createdAt, s.expiresAt, s.credential);
  }

  async getSession(idHash: string, now: string): Promise<StoredSession | null> {
    const row = this.#db.prepare('SELECT * FROM console_sessions WHERE id_hash = ? AND expires_at > ?').get(idHash, now) as Row | undefined;
    if (!row) return null;
    return {
      idHash: String(row.id_hash), kind: row.kind === 'recipient-link' ? 'recipient-link' : 'session', name: String(row.name),
      role: String(row.role) as IdentityRole, addresses: JSON.parse(String(row.addresses)) as string[], csrfToken: String(row.csrf_token),
      createdAt: String(row.created_at), expiresAt: String(row.expires_at), credential: str(row.credential),
    };
  }

  async removeSession(idHash: string): Promise<void> {
    this.#db.prepare('DELETE FROM console_sessions WHERE id_hash = ?').run(idHash);
  }

  async removeSessionsOf(username: string): Promise<number> {
    return Number(this.#db.prepare("DELETE FROM console_sessions WHERE kind = 'session' AND name = ?").run(username).changes);
  }

  async purgeExpiredSessions(now: string): Promise<number> {
    return Number(this.#db.prepare('DELETE FROM console_sessions WHERE expires_at <= ?').run(now).changes);
  }

  async linkKey(offer: () => LinkKeyCandidate): Promise<Buffer> {
    const read = () => this.#db.prepare('SELECT key FROM console_link_key WHERE id = 1').get() as { key: Uint8Array } | undefined;
    const stored = read();
    if (stored) return Buffer.from(stored.key);
    // Insert-if-absent then read again: the primary key admits one row, so a CLI and a gateway
    // creating the key at the same moment both read back the row that won.
    const candidate = offer();
    this.#db.prepare('INSERT INTO console_link_key (id, key, origin, created_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(candidate.key, candidate.origin, new Date().toISOString());
    return Buffer.from(read()!.key);
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}

function accountOf(row: Row): ConsoleAccount {
  return { username: String(row.username), role: String(row.role) as IdentityRole, passwordHash: String(row.password_hash), createdAt: String(row.created_at) };
}

function tokenOf(row: Row): StoredApiToken {
  return {
    id: String(row.id), name: String(row.name), role: String(row.role) as IdentityRole, scopes: JSON.parse(String(row.scopes)) as StoredApiToken['scopes'],
    tokenHash: String(row.token_hash), createdBy: String(row.created_by), createdAt: String(row.created_at),
    expiresAt: str(row.expires_at), revokedAt: str(row.revoked_at), lastUsedAt: str(row.last_used_at),
  };
}
