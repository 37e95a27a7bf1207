// The identity store that goes with a store selection (open-store.ts): the same SQLite file in
// the data directory, or the same PostgreSQL database, so the CLI and every node share accounts,
// tokens and sessions.
import { mkdirSync } from 'node:fs';
import { dataPaths } from '../config/data-dir.ts';
import type { IdentityStore } from './ports.ts';
import { PostgresIdentityStore } from './postgres/identity-store.ts';
import { SqliteIdentityStore } from './sqlite/identity-store.ts';

export async function openIdentityStore(selection: { url?: string; dataDir: string }): Promise<IdentityStore> {
  if (selection.url) return PostgresIdentityStore.open(selection.url);
  mkdirSync(selection.dataDir, { recursive: true, mode: 0o700 });
  return new SqliteIdentityStore(dataPaths(selection.dataDir).store);
}
