// The data directory every command uses: --data-dir, else MXWARD_DATA_DIR, else the config
// file's dataDir, else ./.mxward.
import { resolve, join } from 'node:path';

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv, fromConfig?: string): string {
  return resolve(flag ?? env.MXWARD_DATA_DIR ?? fromConfig ?? '.mxward');
}

export function dataPaths(dataDir: string) {
  return {
    store: join(dataDir, 'mxward.db'),
    spool: join(dataDir, 'spool'),
    maildir: join(dataDir, 'maildir'),
    tls: join(dataDir, 'tls'),
    quarantine: join(dataDir, 'quarantine'),
  };
}
