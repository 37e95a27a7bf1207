// A throwaway PostgreSQL database per test file: created on a server that answers, dropped at
// the end. When no server answers (a clean runner), the helper starts a private cluster of its own
// (initdb into a temporary directory, a free loopback port, trust auth) and stops it when the last
// database of this process is dropped. Tests skip with a message only when even that fails, and
// never under CI=true: there a missing PostgreSQL is a failure, not a silent skip.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startPrivatePostgres } from './private-postgres.ts';
import type { PrivatePostgres } from './private-postgres.ts';

/** Where the test server is: MXWARD_TEST_PG_URL, else a local server with trust auth. */
export let adminUrl = process.env.MXWARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

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

let privateCluster: Promise<PrivatePostgres> | null = null;
let openDatabases = 0;

async function answers(url: string): Promise<boolean> {
  try {
    await admin(url, (c) => c.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/** The server to use: the configured one when it answers, else this process's private cluster. */
async function reachableAdminUrl(): Promise<string> {
  if (privateCluster) return (await privateCluster).url;
  if (await answers(adminUrl)) return adminUrl;
  privateCluster = startPrivatePostgres();
  const cluster = await privateCluster.catch((err: unknown) => {
    privateCluster = null;
    throw err;
  });
  adminUrl = cluster.url;
  return cluster.url;
}

/** The database, or why there is none (no server, no private cluster): the caller skips with that text. */
export async function createTestDatabase(): Promise<TestDatabase | string> {
  const name = `mxward_test_${randomBytes(6).toString('hex')}`;
  try {
    const url = await reachableAdminUrl();
    await admin(url, (c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    const why = `no PostgreSQL server answers at ${new URL(adminUrl).host} and no private cluster could be started (${(err as Error).message || (err as Error).name}); set MXWARD_TEST_PG_URL`;
    // A clean CI runner must run these tests: failing here is the point (issue 14).
    if (process.env.CI === 'true') throw new Error(why, { cause: err });
    return why;
  }
  openDatabases++;
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
      if (--openDatabases === 0 && privateCluster) {
        const cluster = await privateCluster;
        privateCluster = null;
        await cluster.dispose();
      }
    },
  };
}
