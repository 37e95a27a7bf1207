// The recipient-link key of a data directory's embedded store, as the tests need it to sign links
// the way the quarantine digest does. The product takes it from the identity service
// (storedLinkKey); a test reads it by opening the same SQLite store for a moment.
import { dataPaths } from '../../src/config/data-dir.ts';
import { storedLinkKey } from '../../src/services/identity-links.ts';
import { SqliteIdentityStore } from '../../src/store/sqlite/identity-store.ts';

export async function readLinkKey(dataDir: string): Promise<Buffer> {
  const store = new SqliteIdentityStore(dataPaths(dataDir).store);
  try {
    return await storedLinkKey(store, dataDir);
  } finally {
    await store.close();
  }
}
