// LISTEN/NOTIFY on PostgreSQL (issue 14): a policy change committed through one store wakes the
// watchers of every other store on the database, only after COMMIT, and a watcher whose
// connection is cut reconnects and wakes again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { defaultPolicy } from '../../src/config/policy-schema.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/loopback.ts';

const db = await createTestDatabase();
const skip = typeof db === 'string' ? db : false;
if (typeof db !== 'string') after(() => db.drop());

test('a committed policy change wakes the other store; a cut listener reconnects', { skip }, async (t) => {
  if (typeof db === 'string') return;
  const url = await db.schemaUrl('notify');
  const writer = await PostgresStore.open(url);
  const watcher = await PostgresStore.open(url);
  t.after(async () => { await writer.close(); await watcher.close(); });
  let wakeUps = 0;
  const errors: string[] = [];
  const watch = watcher.watchPolicy(() => { wakeUps++; }, (err) => errors.push(err.message));
  t.after(() => watch.close());
  // The first wake-up comes when the listener is connected (a catch-up for missed changes).
  await waitFor('listener connected', async () => wakeUps >= 1, 5000);
  const connected = wakeUps;

  // An uncommitted change wakes nobody; the commit does.
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.after(() => admin.end());
  await admin.query('BEGIN');
  await admin.query('UPDATE policy SET version = version + 1 WHERE id = 1');
  await admin.query('SELECT pg_sleep(0.3)');
  assert.equal(wakeUps, connected, 'woken before COMMIT');
  await admin.query('COMMIT');
  await waitFor('woken by the commit', async () => wakeUps > connected, 5000);

  const beforeWrite = wakeUps;
  await writer.writePolicy(defaultPolicy(), 'test', 'org.set');
  await waitFor('woken by writePolicy', async () => wakeUps > beforeWrite, 5000);

  // Cut the listening connection as a server restart would; the watcher comes back on its own.
  const cut = await admin.query<{ n: number }>(
    "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query = 'LISTEN mxward_policy' AND pid <> pg_backend_pid()");
  assert.ok(cut.rows[0].n >= 1);
  await waitFor('listener error reported', async () => errors.length > 0, 5000);
  const afterCut = wakeUps;
  await waitFor('listener reconnected (catch-up wake-up)', async () => wakeUps > afterCut, 5000);
  const reconnected = wakeUps;
  await writer.writePolicy(defaultPolicy(), 'test', 'org.set');
  await waitFor('woken after reconnecting', async () => wakeUps > reconnected, 5000);
});
