// The store contract against the embedded SQLite store, through the same factory the gateway uses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreReady } from '../../src/store/open-store.ts';
import { defineStoreContract } from './store-contract.ts';

defineStoreContract('sqlite', {
  async fresh() {
    const dataDir = await mkdtemp(join(tmpdir(), 'mxward-store-'));
    return {
      open: () => openStoreReady({ dataDir }),
      dispose: () => rm(dataDir, { recursive: true, force: true }),
    };
  },
});
