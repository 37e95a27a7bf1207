// One way to open a PostgreSQL pool for the stores: small, tolerant of dropped idle connections,
// and migrated before first use.
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { migrate } from './migrations.ts';

/** For error messages: the server and database, never the password. */
function describeStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'the configured PostgreSQL URL';
  }
}

/**
 * The pool opens synchronously (the CLI's openStore is synchronous) while the schema migration
 * runs; every store method awaits `ready`, so a bad server still fails on first use.
 */
export function openMigratedPool(url: string, maxConnections: number, what: string): { pool: pg.Pool; ready: Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: maxConnections, idleTimeoutMillis: 30_000 });
  // An idle connection dropped by the server (restart, failover) must not crash the gateway:
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  const ready = migrate(pool).catch((err: unknown) => {
    throw new Error(`cannot open the ${what} at ${describeStoreUrl(url)}: ${(err as Error).message}`, { cause: err });
  });
  // Rejections surface on first use; this keeps an unused failed store from crashing the process.
  ready.catch(() => {});
  return { pool, ready };
}

/**
 * A migrated pool with the few operations the stores need. Opening is synchronous (the CLI's
 * openStore is) and every operation first waits for the schema, so a bad server fails on first use.
 */
export class PgDatabase {
  readonly #pool: pg.Pool;
  readonly #ready: Promise<void>;
  #closed = false;

  constructor(url: string, maxConnections: number, what: string) {
    ({ pool: this.#pool, ready: this.#ready } = openMigratedPool(url, maxConnections, what));
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  async pool(): Promise<pg.Pool> {
    await this.#ready;
    return this.#pool;
  }

  async query<R extends QueryResultRow>(sql: string, args: unknown[] = []) {
    return (await this.pool()).query<R>(sql, args);
  }

  async one<R extends QueryResultRow>(sql: string, args: unknown[] = []): Promise<R | undefined> {
    return (await this.query<R>(sql, args)).rows[0];
  }

  async transaction<T>(fn: (db: PoolClient) => Promise<T>): Promise<T> {
    const client = await (await this.pool()).connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      // A connection that cannot even roll back is broken: release(true) discards it.
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let a migration in progress finish (or fail) before ending the pool under it.
    await this.#ready.catch(() => {});
    await this.#pool.end();
  }
}

/** For a store's static open(): resolves once its schema is current, or closes it and rethrows. */
export async function whenReady<T extends { close(): Promise<void> }>(store: T, ready: Promise<void>): Promise<T> {
  try {
    await ready;
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
