// One way to open a PostgreSQL pool for the stores: small, tolerant of dropped idle connections,
// and migrated before first use.
import pg from 'pg';
import { migrate } from './migrations.ts';

/** For error messages: the server and database, never the password. */
export function describeStoreUrl(url: string): string {
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
