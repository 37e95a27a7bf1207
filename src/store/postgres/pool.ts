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
 * How long a node waits on PostgreSQL before it treats the store as down (issue 14). A server that
 * refuses connections fails at once; one cut off by a partition (or hung) never answers, and
 * without these bounds a trace write or a quarantine insert would hold its SMTP transaction until
 * the kernel gives up on the TCP connection, many minutes later. With them the node falls back to
 * its outage behaviour (trace outbox, 451 for what it cannot quarantine) within seconds.
 */
export const STORE_CONNECT_TIMEOUT_MS = 2_000;
/** Every statement unless it says otherwise: the SMTP path's writes and the policy poll are small. */
export const STORE_QUERY_TIMEOUT_MS = 5_000;
/**
 * Statements known to be long (schema migrations, the retention purge, trace searches over a big
 * table for the CLI and API); also the server-side statement_timeout, so a statement whose client
 * has gone does not run on for ever.
 */
export const STORE_LONG_QUERY_TIMEOUT_MS = 120_000;

export interface PoolTimeouts {
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

/**
 * The pool opens synchronously (the CLI's openStore is synchronous) while the schema migration
 * runs; every store method awaits `ready`, so a bad server still fails on first use.
 */
export function openMigratedPool(url: string, maxConnections: number, what: string, timeouts: PoolTimeouts = {}): { pool: pg.Pool; ready: Promise<void> } {
  const pool = new pg.Pool({
    connectionString: url, max: maxConnections, idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: timeouts.connectTimeoutMs ?? STORE_CONNECT_TIMEOUT_MS,
    query_timeout: timeouts.queryTimeoutMs ?? STORE_QUERY_TIMEOUT_MS,
    statement_timeout: STORE_LONG_QUERY_TIMEOUT_MS,
    // An idle connection across a partition is found dead by TCP keepalive, not by the next query.
    keepAlive: true, keepAliveInitialDelayMillis: 10_000,
  });
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

  constructor(url: string, maxConnections: number, what: string, timeouts: PoolTimeouts = {}) {
    ({ pool: this.#pool, ready: this.#ready } = openMigratedPool(url, maxConnections, what, timeouts));
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  async pool(): Promise<pg.Pool> {
    await this.#ready;
    return this.#pool;
  }

  /** `timeoutMs`: for the few statements known to take longer than STORE_QUERY_TIMEOUT_MS. */
  async query<R extends QueryResultRow>(sql: string, args: unknown[] = [], options: { timeoutMs?: number } = {}) {
    const pool = await this.pool();
    if (options.timeoutMs === undefined) return pool.query<R>(sql, args);
    return pool.query<R>({ text: sql, values: args, query_timeout: options.timeoutMs } as pg.QueryConfig);
  }

  async one<R extends QueryResultRow>(sql: string, args: unknown[] = []): Promise<R | undefined> {
    return (await this.query<R>(sql, args)).rows[0];
  }

  async transaction<T>(fn: (db: PoolClient) => Promise<T>): Promise<T> {
    const client = await (await this.pool()).connect();
    let broken = false;
    // A checked-out client whose connection drops between two statements (server stopped,
    // failover) emits 'error' with no query to take it; unheard, that event would end the process.
    const onError = () => { broken = true; };
    client.on('error', onError);
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
      client.off('error', onError);
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
