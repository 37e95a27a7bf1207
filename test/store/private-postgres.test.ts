// The private cluster the test helpers start when no PostgreSQL answers (a clean runner, issue
// 14): it serves a store, stops like an outage (connections refused), starts again with its
// data, and leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { postgresBinDir, startPrivatePostgres } from '../helpers/private-postgres.ts';

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const skip = postgresBinDir() === null && process.env.CI !== 'true' ? 'no PostgreSQL binaries (Debian package postgresql)' : false;

test('a private cluster serves, stops like an outage, restarts with its data and cleans up', { skip }, async () => {
  const cluster = await startPrivatePostgres();
  try {
    assert.match(cluster.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    await query(cluster.url, 'CREATE TABLE kept (n integer); INSERT INTO kept VALUES (7)');
    await cluster.stop();
    await assert.rejects(query(cluster.url, 'SELECT 1'), /ECONNREFUSED/);
    await cluster.start();
    assert.deepEqual(await query(cluster.url, 'SELECT n FROM kept'), [{ n: 7 }]);
  } finally {
    await cluster.dispose();
  }
  await assert.rejects(query(cluster.url, 'SELECT 1'), /ECONNREFUSED/);
});
