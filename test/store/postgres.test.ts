// The store contract against a real PostgreSQL: a fresh database for this file, a fresh schema
// per test. Skips with the reason when no server answers.
import { after, test } from 'node:test';
import { openStoreReady } from '../../src/store/open-store.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { defineStoreContract } from './store-contract.ts';

const db = await createTestDatabase();

if (typeof db === 'string') {
  test('postgres store contract', { skip: db }, () => {});
} else {
  after(() => db.drop());
  let schemas = 0;
  defineStoreContract('postgres', {
    async fresh() {
      const url = await db.schemaUrl(`store_${++schemas}`);
      return { open: () => openStoreReady({ url, dataDir: '/nonexistent' }), dispose: async () => {} };
    },
  });
}
