// The IdentityStore contract, run against SQLite and a real PostgreSQL (a fresh schema each):
// accounts, tokens by hash, revocation once, sessions with expiry, removal ending sessions, and
// two handles on one database seeing each other's writes (a CLI beside a gateway, two nodes).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openIdentityStore } from '../../src/store/open-identity-store.ts';
import { PostgresIdentityStore } from '../../src/store/postgres/identity-store.ts';
import type { IdentityStore, StoredApiToken, StoredSession } from '../../src/store/ports.ts';
import { createTestDatabase } from '../helpers/postgres.ts';

interface Backend {
  /** A fresh location, opened `handles` times. */
  open(handles: number): Promise<{ stores: IdentityStore[]; dispose(): Promise<void> }>;
}

const token = (id: string, overrides: Partial<StoredApiToken> = {}): StoredApiToken => ({
  id, name: `t-${id}`, role: 'helpdesk', scopes: ['read', 'write'], tokenHash: `hash-${id}`, createdBy: 'test',
  createdAt: '2026-01-01T00:00:00.000Z', expiresAt: '2027-01-01T00:00:00.000Z', revokedAt: null, lastUsedAt: null, ...overrides,
});

const session = (idHash: string, overrides: Partial<StoredSession> = {}): StoredSession => ({
  idHash, kind: 'session', name: 'alice', role: 'administrator', addresses: [], csrfToken: `csrf-${idHash}`,
  createdAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T08:00:00.000Z', credential: null, ...overrides,
});

function defineContract(name: string, backend: Backend): void {
  describe(`identity store contract: ${name}`, () => {
    const withStores = async (handles: number, fn: (s: IdentityStore[]) => Promise<void>) => {
      const opened = await backend.open(handles);
      try {
        await fn(opened.stores);
      } finally {
        for (const s of opened.stores) await s.close();
        await opened.dispose();
      }
    };

    test('accounts: put, replace, list, remove', () => withStores(2, async ([a, b]) => {
      assert.equal(await a.getAccount('alice'), null);
      await a.putAccount({ username: 'alice', role: 'administrator', passwordHash: 'scrypt$1', createdAt: '2026-01-01T00:00:00.000Z' });
      assert.equal(await a.createAccount({ username: 'bob', role: 'auditor', passwordHash: 'scrypt$2', createdAt: '2026-01-02T00:00:00.000Z' }), true);
      assert.equal(await b.createAccount({ username: 'bob', role: 'administrator', passwordHash: 'scrypt$9', createdAt: '2026-01-03T00:00:00.000Z' }), false);
      assert.equal((await a.getAccount('bob'))?.passwordHash, 'scrypt$2', 'create never replaces');
      await b.putAccount({ username: 'alice', role: 'helpdesk', passwordHash: 'scrypt$3', createdAt: '2030-01-01T00:00:00.000Z' });
      const alice = await a.getAccount('alice');
      assert.deepEqual(alice, { username: 'alice', role: 'helpdesk', passwordHash: 'scrypt$3', createdAt: '2026-01-01T00:00:00.000Z' });
      assert.deepEqual((await b.listAccounts()).map((x) => x.username), ['alice', 'bob']);
      assert.equal(await b.removeAccount('bob'), true);
      assert.equal(await a.removeAccount('bob'), false);
      assert.deepEqual((await a.listAccounts()).map((x) => x.username), ['alice']);
    }));

    test('tokens: found by hash, revoked once, touched', () => withStores(2, async ([a, b]) => {
      await a.addToken(token('aaaaaaaaaaaa'));
      await a.addToken(token('bbbbbbbbbbbb', { expiresAt: null, scopes: ['read'], role: 'auditor' }));
      assert.deepEqual(await b.findTokenByHash('hash-aaaaaaaaaaaa'), token('aaaaaaaaaaaa'));
      assert.equal(await b.findTokenByHash('hash-nope'), null);
      assert.deepEqual((await b.listTokens()).map((t) => [t.id, t.expiresAt, t.scopes]), [['aaaaaaaaaaaa', '2027-01-01T00:00:00.000Z', ['read', 'write']], ['bbbbbbbbbbbb', null, ['read']]]);
      assert.equal(await b.revokeToken('aaaaaaaaaaaa', '2026-02-01T00:00:00.000Z'), true);
      assert.equal(await a.revokeToken('aaaaaaaaaaaa', '2026-03-01T00:00:00.000Z'), false, 'revoked once');
      assert.equal(await a.revokeToken('cccccccccccc', '2026-03-01T00:00:00.000Z'), false);
      await a.touchToken('bbbbbbbbbbbb', '2026-02-02T00:00:00.000Z');
      const rows = await b.listTokens();
      assert.equal(rows[0].revokedAt, '2026-02-01T00:00:00.000Z');
      assert.equal(rows[1].lastUsedAt, '2026-02-02T00:00:00.000Z');
      await assert.rejects(a.addToken(token('dddddddddddd', { tokenHash: 'hash-aaaaaaaaaaaa' })), 'token hashes are unique');
    }));

    test('sessions: expiry, removal, purge, and removal with the account', () => withStores(2, async ([a, b]) => {
      await a.putAccount({ username: 'alice', role: 'administrator', passwordHash: 'x', createdAt: '2026-01-01T00:00:00.000Z' });
      await a.addSession(session('s1'));
      await a.addSession(session('s2', { kind: 'recipient-link', name: 'carol@example.test', role: 'recipient', addresses: ['carol@example.test'], credential: 'pw:0a1b' }));
      await a.addSession(session('s3', { expiresAt: '2026-01-01T01:00:00.000Z' }));
      const now = '2026-01-01T02:00:00.000Z';
      // The credential that opened it comes back as written (a changed password is detected by it).
      assert.deepEqual(await b.getSession('s2', now), session('s2', { kind: 'recipient-link', name: 'carol@example.test', role: 'recipient', addresses: ['carol@example.test'], credential: 'pw:0a1b' }));
      assert.equal(await b.getSession('s3', now), null, 'expired');
      assert.equal(await b.purgeExpiredSessions(now), 1);
      await b.removeSession('s2');
      assert.equal(await a.getSession('s2', now), null);
      assert.ok(await a.getSession('s1', now));
      await a.addSession(session('s4', { expiresAt: '2026-01-01T09:00:00.000Z' }));
      assert.equal(await b.removeSessionsOf('alice'), 2);
      assert.equal(await a.getSession('s4', now), null);
      await a.addSession(session('s5'));
      await b.removeAccount('alice');
      assert.equal(await a.getSession('s5', now), null, "an account's sessions end with it");
    }));
  });
}

defineContract('sqlite', {
  async open(handles) {
    const dataDir = await mkdtemp(join(tmpdir(), 'mxward-identity-'));
    const stores: IdentityStore[] = [];
    for (let i = 0; i < handles; i++) stores.push(await openIdentityStore({ dataDir }));
    return { stores, dispose: () => rm(dataDir, { recursive: true, force: true }) };
  },
});

const db = await createTestDatabase();
if (typeof db === 'string') {
  test('identity store contract: postgres', { skip: db }, () => {});
} else {
  after(() => db.drop());
  let schemas = 0;
  defineContract('postgres', {
    async open(handles) {
      const url = await db.schemaUrl(`identity_${++schemas}`);
      const stores: IdentityStore[] = [];
      for (let i = 0; i < handles; i++) {
        const store = await openIdentityStore({ url, dataDir: '/nonexistent' });
        assert.ok(store instanceof PostgresIdentityStore);
        stores.push(store);
      }
      return { stores, dispose: async () => {} };
    },
  });
}
