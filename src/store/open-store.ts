// Which store a node or a CLI command uses: SQLite in the data directory unless a PostgreSQL URL
// is given (`--store-url`, then MXWARD_STORE_URL, then the bootstrap's store.url). Every command
// resolves it the same way, so the CLI changes the same policy the running gateways read.
import { mkdirSync } from 'node:fs';
import { dataPaths } from '../config/data-dir.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import type { PostgresStoreOptions } from './postgres/postgres-store.ts';
import { PostgresQuarantineStore } from './postgres/quarantine-store.ts';
import type { QuarantineStore, Store } from './ports.ts';
import { SqliteQuarantineStore } from './sqlite/quarantine-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export const postgresUrlPattern = /^postgres(?:ql)?:\/\//i;

export function resolveStoreUrl(flag: string | undefined, env: NodeJS.ProcessEnv, fromConfig?: string): string | undefined {
  const url = flag ?? (env.MXWARD_STORE_URL || undefined) ?? fromConfig;
  if (url !== undefined && !postgresUrlPattern.test(url)) {
    // Say which source was wrong without echoing it: a URL may carry a password.
    const source = flag !== undefined ? '--store-url' : env.MXWARD_STORE_URL ? 'MXWARD_STORE_URL' : 'store.url';
    throw new Error(`${source}: expected a postgres:// or postgresql:// URL (leave it unset for SQLite in the data directory)`);
  }
  return url;
}

export interface StoreSelection {
  /** A postgres:// URL; absent = SQLite in dataDir. */
  url?: string;
  dataDir: string;
  postgres?: PostgresStoreOptions;
}

/**
 * Opens without waiting: the PostgreSQL store migrates in the background and its first call
 * reports a server that cannot be reached. Callers that must fail at start-up use openStoreReady.
 */
export function openStore(selection: StoreSelection): Store {
  if (selection.url) return new PostgresStore(selection.url, selection.postgres);
  mkdirSync(selection.dataDir, { recursive: true, mode: 0o700 });
  return new SqliteStore(dataPaths(selection.dataDir).store);
}

export async function openStoreReady(selection: StoreSelection): Promise<Store> {
  if (selection.url) return PostgresStore.open(selection.url, selection.postgres);
  return openStore(selection);
}

/**
 * The quarantine store that goes with the main store of the same selection: the quarantine
 * tables live in the same database, so quarantine audit entries join the main audit log and a
 * release is attached to the trace record the gateway wrote (in PostgreSQL when that is the store).
 */
export function openQuarantineStore(selection: StoreSelection): QuarantineStore {
  if (selection.url) return new PostgresQuarantineStore(selection.url, { ...selection.postgres, messageDir: dataPaths(selection.dataDir).quarantine });
  mkdirSync(selection.dataDir, { recursive: true, mode: 0o700 });
  return new SqliteQuarantineStore(dataPaths(selection.dataDir).store);
}

export async function openQuarantineStoreReady(selection: StoreSelection): Promise<QuarantineStore> {
  if (selection.url) return PostgresQuarantineStore.open(selection.url, { ...selection.postgres, messageDir: dataPaths(selection.dataDir).quarantine });
  return openQuarantineStore(selection);
}
