// Console accounts, API tokens, sessions and the recipient-link key behind the IdentityStore port
// on PostgreSQL, shared by every node, so a session opened on one node works on the others, a
// revoked token is revoked everywhere at once, and a digest link made on one node opens on any.
// Same contract as the SQLite identity store.
import type { ConsoleAccount, IdentityRole, IdentityStore, LinkKeyCandidate, StoredApiToken, StoredSession } from '../ports.ts';
import { PgDatabase, whenReady } from './pool.ts';

interface AccountRow { username: string; role: string; password_hash: string; created_at: Date }
interface TokenRow {
  id: string; name: string; role: string; scopes: Array<'read' | 'write'>; token_hash: string; created_by: string;
  created_at: Date; expires_at: Date | null; revoked_at: Date | null; last_used_at: Date | null;
}
interface SessionRow {
  id_hash: string; kind: string; name: string; role: string; addresses: string[]; csrf_token: string; created_at: Date; expires_at: Date;
  credential: string | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export class PostgresIdentityStore implements IdentityStore {
  readonly #db: PgDatabase;

  constructor(url: string, options: { maxConnections?: number } = {}) {
    // Sign-ins and token checks: a couple of connections suffice.
    this.#db = new PgDatabase(url, options.maxConnections ?? 2, 'identity store');
  }

  static async open(url: string, options: { maxConnections?: number } = {}): Promise<PostgresIdentityStore> {
    const store = new PostgresIdentityStore(url, options);
    return whenReady(store, store.#db.ready());
  }

  async getAccount(username: string): Promise<ConsoleAccount | null> {
    const row = await this.#db.one<AccountRow>('SELECT * FROM console_accounts WHERE username = $1', [username]);
    return row ? accountOf(row) : null;
  }

  async createAccount(a: ConsoleAccount): Promise<boolean> {
    const res = await this.#db.query('INSERT INTO console_accounts (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING',
      [a.username, a.role, a.passwordHash, a.createdAt]);
    return (res.rowCount ?? 0) > 0;
  }

  async putAccount(a: ConsoleAccount): Promise<void> {
    await this.#db.query(`INSERT INTO console_accounts (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash`, [a.username, a.role, a.passwordHash, a.createdAt]);
  }

  async removeAccount(username: string): Promise<boolean> {
    return this.#db.transaction(async (db) => {
      const removed = (await db.query('DELETE FROM console_accounts WHERE username = $1', [username])).rowCount ?? 0;
      if (removed > 0) await db.query("DELETE FROM console_sessions WHERE kind = 'session' AND name = $1", [username]);
      return removed > 0;
    });
  }

  async listAccounts(): Promise<ConsoleAccount[]> {
    return (await this.#db.query<AccountRow>('SELECT * FROM console_accounts ORDER BY username')).rows.map(accountOf);
  }

  async addToken(t: StoredApiToken): Promise<void> {
    await this.#db.query(`INSERT INTO api_tokens (id, name, role, scopes, token_hash, created_by, created_at, expires_at, revoked_at, last_used_at)
      VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10)`, [t.id, t.name, t.role, JSON.stringify(t.scopes), t.tokenHash, t.createdBy, t.createdAt,
      t.expiresAt, t.revokedAt, t.lastUsedAt]);
  }

  async findTokenByHash(tokenHash: string): Promise<StoredApiToken | null> {
    const row = await this.#db.one<TokenRow>('SELECT * FROM api_tokens WHERE token_hash = $1', [tokenHash]);
    return row ? tokenOf(row) : null;
  }

  async listTokens(): Promise<StoredApiToken[]> {
    return (await this.#db.query<TokenRow>('SELECT * FROM api_tokens ORDER BY created_at, id')).rows.map(tokenOf);
  }

  async revokeToken(id: string, time: string): Promise<boolean> {
    return ((await this.#db.query('UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [time, id])).rowCount ?? 0) > 0;
  }

  async touchToken(id: string, time: string): Promise<void> {
    await this.#db.query('UPDATE api_tokens SET last_used_at = $1 WHERE id = $2', [time, id]);
  }

  async addSession(s: StoredSession): Promise<void> {
    await this.#db.query(`INSERT INTO console_sessions (id_hash, kind, name, role, addresses, csrf_token, created_at, expires_at, credential)
      VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)`,
    [s.idHash, s.kind, s.name, s.role, JSON.stringify(s.addresses), s.csrfToken, s.createdAt, s.expiresAt, s.credential]);
  }

  async getSession(idHash: string, now: string): Promise<StoredSession | null> {
    const row = await this.#db.one<SessionRow>('SELECT * FROM console_sessions WHERE id_hash = $1 AND expires_at > $2', [idHash, now]);
    if (!row) return null;
    return {
      idHash: row.id_hash, kind: row.kind === 'recipient-link' ? 'recipient-link' : 'session', name: row.name, role: row.role as IdentityRole,
      addresses: row.addresses, csrfToken: row.csrf_token, createdAt: row.created_at.toISOString(), expiresAt: row.expires_at.toISOString(),
      credential: row.credential ?? null,
    };
  }

  async removeSession(idHash: string): Promise<void> {
    await this.#db.query('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]);
  }

  async removeSessionsOf(username: string): Promise<number> {
    return (await this.#db.query("DELETE FROM console_sessions WHERE kind = 'session' AND name = $1", [username])).rowCount ?? 0;
  }

  async purgeExpiredSessions(now: string): Promise<number> {
    return (await this.#db.query('DELETE FROM console_sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  async linkKey(offer: () => LinkKeyCandidate): Promise<Buffer> {
    const read = () => this.#db.one<{ key: Buffer }>('SELECT key FROM console_link_key WHERE id = 1');
    const stored = await read();
    if (stored) return stored.key;
    // Insert-if-absent, then read again: of nodes starting together on a new database one row
    // wins and every node reads that one. Not RETURNING: DO NOTHING returns no row to the losers.
    const candidate = offer();
    await this.#db.query('INSERT INTO console_link_key (id, key, origin) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [candidate.key, candidate.origin]);
    const row = await read();
    if (!row) throw new Error('the recipient-link key row is missing after it was written');
    return row.key;
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

function accountOf(row: AccountRow): ConsoleAccount {
  return { username: row.username, role: row.role as IdentityRole, passwordHash: row.password_hash, createdAt: row.created_at.toISOString() };
}

function tokenOf(row: TokenRow): StoredApiToken {
  return {
    id: row.id, name: row.name, role: row.role as IdentityRole, scopes: row.scopes, tokenHash: row.token_hash, createdBy: row.created_by,
    createdAt: row.created_at.toISOString(), expiresAt: iso(row.expires_at), revokedAt: iso(row.revoked_at), lastUsedAt: iso(row.last_used_at),
  };
}
