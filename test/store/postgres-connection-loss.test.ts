// PostgreSQL connections lost at awkward moments (issue 14): a node's pool must turn them into
// failed calls, never into an 'error' event nobody hears (which ends the process), and the pool
// must work again afterwards. The connection is cut for real, with pg_terminate_backend.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PgDatabase } from '../../src/store/postgres/pool.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/loopback.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
if (typeof db !== 'string') after(() => db.drop());

test('a transaction whose connection is terminated between two statements fails, and the pool recovers', { skip }, async (t) => {
  if (typeof db === 'string') return;
  const url = await db.schemaUrl('connection_loss');
  const database = new PgDatabase(url, 2, 'store');
  t.after(() => database.close());
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.after(() => admin.end());
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => { uncaught.push(err); };
  process.on('uncaughtException', onUncaught);
  t.after(() => { process.off('uncaughtException', onUncaught); });

  await assert.rejects(database.transaction(async (client) => {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await waitFor('the backend is gone', async () =>
      (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0].pid])).rows.length === 0, 10_000);
    // The client learns of it on its socket, with no statement running: the moment that mattered.
    await waitFor('the client noticed', async () => (client as unknown as { _ending?: boolean; _queryable?: boolean })._queryable === false, 10_000);
    await client.query('SELECT 1');
  }));
  assert.deepEqual(uncaught, []);
  assert.equal((await database.one<{ one: number }>('SELECT 1 AS one'))?.one, 1, 'the pool opens a new connection');
});
