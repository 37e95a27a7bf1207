// A throwaway PostgreSQL database per test file: created on a server that answers, dropped at
// the end. Tests that need one skip with a message when no server answers, so the suite runs on
// machines without PostgreSQL (SQLite is the default store).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the test server is: MXWARD_TEST_PG_URL, else a local server with trust auth. */
export const adminUrl = process.env.MXWARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** The same database with its own schema first on the search path: an empty store per test. */
  schemaUrl(schema: string): Promise<string>;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): URL {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u;
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The database, or why there is none (no server answers): the caller skips with that text. */
export async function createTestDatabase(): Promise<TestDatabase | string> {
  const name = `mxward_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    return `no PostgreSQL server answers at ${new URL(adminUrl).host} (${(err as Error).message || (err as Error).name}); set MXWARD_TEST_PG_URL`;
  }
  const url = withDatabase(adminUrl, name).toString();
  return {
    name,
    url,
    async schemaUrl(schema) {
      await admin(url, (c) => c.query(`CREATE SCHEMA ${schema}`));
      const u = new URL(url);
      u.searchParams.set('options', `-c search_path=${schema}`);
      return u.toString();
    },
    async drop() {
      // FORCE: a store a failed test left open must not keep the database alive.
      await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
