// The identity service over the store selected for this node (SQLite in the data directory or
// PostgreSQL), for the console listener and for `mxward console`.
import { mkdirSync } from 'node:fs';
import { dataPaths } from '../../config/data-dir.ts';
import type { BootstrapConfig } from '../../config/bootstrap.ts';
import { IdentityService } from '../../services/identities.ts';
import type { IdentityServiceOptions } from '../../services/identities.ts';
import { loadLinkKey } from '../../services/identity-links.ts';
import type { IdentityStore } from '../../store/ports.ts';
import { PostgresIdentityStore } from '../../store/postgres/identity-store.ts';
import { SqliteIdentityStore } from '../../store/sqlite/identity-store.ts';

export async function openIdentityStore(selection: { url?: string; dataDir: string }): Promise<IdentityStore> {
  if (selection.url) return PostgresIdentityStore.open(selection.url);
  mkdirSync(selection.dataDir, { recursive: true, mode: 0o700 });
  return new SqliteIdentityStore(dataPaths(selection.dataDir).store);
}

/** Login throttling and session length from the bootstrap's `console` section (defaults without one). */
export function loginSettingsOf(config: BootstrapConfig | undefined): IdentityServiceOptions['login'] {
  const c = config?.console;
  if (!c) return {};
  return {
    failuresBeforeLockout: c.loginFailuresBeforeLockout, lockoutMs: c.loginLockoutMs, failureDelayMs: c.loginFailureDelayMs,
    sessionTtlMs: Math.round(c.sessionHours * 3600_000),
  };
}

export async function openIdentityService(options: {
  url?: string; dataDir: string; config?: BootstrapConfig; store: IdentityServiceOptions['store'];
}): Promise<IdentityService> {
  const identities = await openIdentityStore(options);
  return new IdentityService({ identities, store: options.store, linkKey: loadLinkKey(options.dataDir), login: loginSettingsOf(options.config) });
}
