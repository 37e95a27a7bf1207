// PostgreSQL-only behaviour of the store around its schema: nodes starting together, restarts,
// a database newer than the code, and a server that cannot be reached. Skips without a server.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { schemaVersion } from '../../src/store/postgres/migrations.ts';
import { createTestDatabase } from '../helpers/postgres.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
if (typeof db !== 'string') after(() => db.drop());

async function appliedVersions(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ version: number }>('SELECT version FROM mxward_migrations ORDER BY version')).rows.map((r) => r.version);
  } finally {
    await client.end();
  }
}

test('six nodes opening an empty database at once all start, and the schema is built once', { skip }, async () => {
  if (typeof db === 'string') return;
  const url = await db.schemaUrl('together');
  const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(url, { maxConnections: 1 })));
  try {
    assert.deepEqual(await Promise.all(stores.map((s) => s.readPolicyVersion())), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(await appliedVersions(url), Array.from({ length: schemaVersion }, (_, i) => i + 1));
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test('a restart finds the schema current and keeps the data', { skip }, async () => {
  if (typeof db === 'string') return;
  const url = await db.schemaUrl('restart');
  const first = await PostgresStore.open(url);
  await first.appendAudit('ops', 'note', null, { n: 1 });
  await first.close();
  const second = await PostgresStore.open(url);
  try {
    assert.equal((await second.listAudit(10)).length, 1);
    assert.equal((await appliedVersions(url)).length, schemaVersion);
  } finally {
    await second.close();
  }
});

test('a database migrated by a newer mxward is refused with a message, not used', { skip }, async () => {
  if (typeof db === 'string') return;
  const url = await db.schemaUrl('newer');
  await (await PostgresStore.open(url)).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('INSERT INTO mxward_migrations (version) VALUES ($1)', [schemaVersion + 1]);
  await client.end();
  await assert.rejects(PostgresStore.open(url), /newer than this mxward/);
});

test('an unreachable server fails on first use with the server named and the password hidden', async () => {
  const store = new PostgresStore('postgres://mxward:s3cret-pw@127.0.0.1:1/mxward');
  try {
    await assert.rejects(store.readPolicyVersion(), (err: Error) => {
      assert.match(err.message, /cannot open the store at postgres:\/\/127\.0\.0\.1:1\/mxward/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
  } finally {
    await store.close();
  }
});
