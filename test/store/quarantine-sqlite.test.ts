// The quarantine store contract against SQLite in a data directory, through the same factory as
// the gateway and the CLI (openQuarantineStore next to openStore).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openQuarantineStoreReady, openStoreReady } from '../../src/store/open-store.ts';
import { SqliteQuarantineStore } from '../../src/store/sqlite/quarantine-store.ts';
import { defineQuarantineContract } from './quarantine-contract.ts';

defineQuarantineContract('sqlite', {
  async fresh() {
    const dataDir = await mkdtemp(join(tmpdir(), 'mxward-qstore-'));
    return {
      async open() {
        const store = await openStoreReady({ dataDir });
        const quarantine = await openQuarantineStoreReady({ dataDir });
        if (!(quarantine instanceof SqliteQuarantineStore)) throw new Error('expected the SQLite quarantine store without a URL');
        return { store, quarantine };
      },
      dispose: () => rm(dataDir, { recursive: true, force: true }),
    };
  },
});
