// The quarantine store contract against a real PostgreSQL: a fresh database for this file, a
// fresh schema per test. Skips with the reason when no server answers.
import { after, test } from 'node:test';
import { openQuarantineStoreReady, openStoreReady } from '../../src/store/open-store.ts';
import { PostgresQuarantineStore } from '../../src/store/postgres/quarantine-store.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { defineQuarantineContract } from './quarantine-contract.ts';

const db = await createTestDatabase();

if (typeof db === 'string') {
  test('postgres quarantine store contract', { skip: db }, () => {});
} else {
  after(() => db.drop());
  let schemas = 0;
  defineQuarantineContract('postgres', {
    async fresh() {
      const url = await db.schemaUrl(`quarantine_${++schemas}`);
      return {
        async open() {
          // A data directory that does not exist: on PostgreSQL nothing of the quarantine state may touch it.
          const store = await openStoreReady({ url, dataDir: '/nonexistent' });
          const quarantine = await openQuarantineStoreReady({ url, dataDir: '/nonexistent' });
          if (!(quarantine instanceof PostgresQuarantineStore)) throw new Error('expected the PostgreSQL quarantine store with a URL');
          return { store, quarantine };
        },
        dispose: async () => {},
      };
    },
  });
}
