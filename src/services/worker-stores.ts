// How the console's worker tasks (dashboard, trace searches: worker-task.ts) reach the store.
// Opening a SQLite store costs a constructor, a migration check under BEGIN IMMEDIATE (a write
// lock the SMTP path's trace writes then wait behind) and a close: per request that was more CPU
// than a small search itself (issue 13). So a worker thread keeps one handle per data directory
// open for its life (it ends after a quiet half minute, closing them). PostgreSQL stores are
// still opened per task: a kept pool would hold server connections from an idle thread.
import { statSync } from 'node:fs';
import { dataPaths } from '../config/data-dir.ts';
import { openQuarantineStore, openStore } from '../store/open-store.ts';
import type { QuarantineStore, Store } from '../store/ports.ts';

/** The gateway's store selection as a worker receives it. */
export interface StoreSelection {
  url?: string;
  dataDir: string;
}

export interface StoreAccess {
  main<T>(selection: StoreSelection, use: (store: Store) => Promise<T>): Promise<T>;
  quarantine<T>(selection: StoreSelection, use: (store: QuarantineStore) => Promise<T>): Promise<T>;
}

async function usingFresh<S extends { close(): Promise<void> }, T>(store: S, use: (store: S) => Promise<T>): Promise<T> {
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** Opens and closes a store around every use: a test or a CLI in its own thread. */
export const storePerUse: StoreAccess = {
  main: (selection, use) => usingFresh(openStore(selection), use),
  quarantine: (selection, use) => usingFresh(openQuarantineStore(selection), use),
};

/** At most this many data directories held open at once (tests run many gateways in one process). */
const MAX_OPEN = 8;

interface Held<S> { store: S; fileId: string }

/** The store file's identity: a data directory removed and made again must not be read through an old handle. */
function fileIdOf(file: string): string | null {
  try {
    const s = statSync(file);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

class HeldStores<S extends { close(): Promise<void> }> {
  readonly #open: (selection: StoreSelection) => S;
  readonly #held = new Map<string, Held<S>>();

  constructor(open: (selection: StoreSelection) => S) {
    this.#open = open;
  }

  async use<T>(selection: StoreSelection, use: (store: S) => Promise<T>): Promise<T> {
    const file = dataPaths(selection.dataDir).store;
    const held = this.#held.get(selection.dataDir);
    if (held && held.fileId === fileIdOf(file)) {
      // Most recently used last, so the first entry is the one to close when full.
      this.#held.delete(selection.dataDir);
      this.#held.set(selection.dataDir, held);
      return use(held.store);
    }
    if (held) this.#drop(selection.dataDir, held);
    const store = this.#open(selection);
    const fileId = fileIdOf(file);
    if (fileId === null) return usingFresh(store, use);
    this.#held.set(selection.dataDir, { store, fileId });
    while (this.#held.size > MAX_OPEN) {
      const [key, oldest] = this.#held.entries().next().value!;
      this.#drop(key, oldest);
    }
    return use(store);
  }

  #drop(key: string, held: Held<S>): void {
    this.#held.delete(key);
    void held.store.close().catch(() => {});
  }

  async closeAll(): Promise<void> {
    const all = [...this.#held.values()];
    this.#held.clear();
    await Promise.allSettled(all.map((h) => h.store.close()));
  }
}

/** A worker thread's stores: SQLite kept open per data directory, PostgreSQL per use. */
export function heldStores(): StoreAccess & { closeAll(): Promise<void> } {
  const mains = new HeldStores<Store>(openStore);
  const quarantines = new HeldStores<QuarantineStore>(openQuarantineStore);
  return {
    main: (selection, use) => (selection.url ? storePerUse.main(selection, use) : mains.use(selection, use)),
    quarantine: (selection, use) => (selection.url ? storePerUse.quarantine(selection, use) : quarantines.use(selection, use)),
    async closeAll() {
      await Promise.allSettled([mains.closeAll(), quarantines.closeAll()]);
    },
  };
}
