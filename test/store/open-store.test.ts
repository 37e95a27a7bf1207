// Store selection: which store a command opens, and what a wrong setting says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import { openQuarantineStore, openStore, resolveStoreUrl } from '../../src/store/open-store.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { SqliteQuarantineStore } from '../../src/store/sqlite/quarantine-store.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { PostgresQuarantineStore } from '../../src/store/postgres/quarantine-store.ts';

const pgA = 'postgres://mxward@db-a.internal/mxward';
const pgB = 'postgresql://mxward@db-b.internal/mxward';

test('--store-url wins over MXWARD_STORE_URL, which wins over the bootstrap store.url', () => {
  assert.equal(resolveStoreUrl(pgA, { MXWARD_STORE_URL: pgB }, pgB), pgA);
  assert.equal(resolveStoreUrl(undefined, { MXWARD_STORE_URL: pgB }, pgA), pgB);
  assert.equal(resolveStoreUrl(undefined, {}, pgA), pgA);
  assert.equal(resolveStoreUrl(undefined, { MXWARD_STORE_URL: '' }, undefined), undefined);
});

test('a URL that is not PostgreSQL is refused, naming where it came from but not echoing it', () => {
  assert.throws(() => resolveStoreUrl(undefined, { MXWARD_STORE_URL: 'mysql://root:hunter2@x/db' }), (err: Error) =>
    /^MXWARD_STORE_URL: expected a postgres:\/\//.test(err.message) && !err.message.includes('hunter2'));
  assert.throws(() => resolveStoreUrl('sqlite:x.db', {}), /--store-url: expected a postgres/);
});

test('the bootstrap file accepts store.url only as a PostgreSQL URL', () => {
  assert.equal(bootstrapSchema.parse({ store: { url: pgA } }).store.url, pgA);
  assert.equal(bootstrapSchema.parse({}).store.url, undefined);
  const bad = bootstrapSchema.safeParse({ store: { url: 'file:/var/lib/mxward.db' } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0].path, ['store', 'url']);
});

test('without a URL the store is SQLite in the data directory; with one it is PostgreSQL', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-open-'));
  try {
    const sqlite = openStore({ dataDir });
    assert.ok(sqlite instanceof SqliteStore);
    await sqlite.close();
    assert.ok((await stat(join(dataDir, 'mxward.db'))).isFile());
    // Opening does not connect: nothing is listening on port 1 and no error is raised until used.
    const postgres = openStore({ dataDir, url: 'postgres://mxward@127.0.0.1:1/mxward' });
    assert.ok(postgres instanceof PostgresStore);
    await postgres.close();
    // The quarantine store follows the same selection.
    const sqliteQuarantine = openQuarantineStore({ dataDir });
    assert.ok(sqliteQuarantine instanceof SqliteQuarantineStore);
    await sqliteQuarantine.close();
    const postgresQuarantine = openQuarantineStore({ dataDir, url: 'postgres://mxward@127.0.0.1:1/mxward' });
    assert.ok(postgresQuarantine instanceof PostgresQuarantineStore);
    await assert.rejects(postgresQuarantine.getQuarantined('X'), /cannot open the quarantine store at postgres:\/\/127\.0\.0\.1:1\/mxward/);
    await postgresQuarantine.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
