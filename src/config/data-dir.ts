// Where a command finds its store. Every command (the gateway and each admin command) resolves it
// the same way, so `mxward domain add` changes the policy the running gateway reads. One
// precedence, documented in docs/operations.md: command-line flag, then environment, then the
// bootstrap file (--config FILE or MXWARD_CONFIG), then the default ./.mxward.
import { statSync } from 'node:fs';
import { resolve, join } from 'node:path';
import type { BootstrapConfig } from './bootstrap.ts';
import { loadBootstrapFile } from './bootstrap.ts';

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv, fromConfig?: string): string {
  return resolve(flag ?? (env.MXWARD_DATA_DIR || undefined) ?? fromConfig ?? '.mxward');
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

/** The store-selecting flags every command accepts (cli/io.ts commonOptions). */
export interface StoreFlags {
  'data-dir'?: string;
  'store-url'?: string;
  config?: string;
}

export type LocationSource = 'flag' | 'environment' | 'config file' | 'default';

export interface StoreLocation {
  /** A postgres:// URL, or absent for SQLite in dataDir. */
  url?: string;
  urlSource?: LocationSource;
  dataDir: string;
  dataDirSource: LocationSource;
  /** The bootstrap file read (--config or MXWARD_CONFIG), if any. */
  configFile?: string;
  bootstrap?: BootstrapConfig;
}

/**
 * Flag, then environment, then bootstrap file, then default, for the data directory and the
 * store URL alike. A bootstrap already loaded by the caller (serve) is passed in, not read twice.
 */
export function resolveStoreLocation(flags: StoreFlags, env: NodeJS.ProcessEnv, loaded?: { file?: string; config: BootstrapConfig }): StoreLocation {
  const configFile = loaded ? loaded.file : flags.config ?? (env.MXWARD_CONFIG || undefined);
  const bootstrap = loaded ? loaded.config : configFile ? loadBootstrapFile(configFile) : undefined;
  const pick = <T>(flag: T | undefined, fromEnv: T | undefined, fromFile: T | undefined): [T | undefined, LocationSource] =>
    flag !== undefined ? [flag, 'flag'] : fromEnv !== undefined ? [fromEnv, 'environment'] : fromFile !== undefined ? [fromFile, 'config file'] : [undefined, 'default'];
  const [dir, dataDirSource] = pick(flags['data-dir'], env.MXWARD_DATA_DIR || undefined, bootstrap?.dataDir);
  const [url, urlSource] = pick(flags['store-url'], env.MXWARD_STORE_URL || undefined, bootstrap?.store.url);
  return {
    url, urlSource: url === undefined ? undefined : urlSource,
    dataDir: resolve(dir ?? '.mxward'), dataDirSource, configFile, bootstrap,
  };
}

/** How the data directory was chosen, for error messages: the user sees where to change it. */
export function describeDataDirSource(location: StoreLocation): string {
  switch (location.dataDirSource) {
    case 'flag': return 'from --data-dir';
    case 'environment': return 'from MXWARD_DATA_DIR';
    case 'config file': return `from dataDir in ${location.configFile}`;
    default: return 'the default ./.mxward of the current directory';
  }
}

export type DataDirProblem = { kind: 'not-a-directory' } | { kind: 'missing-store'; storeFile: string } | null;

/** What stands in the way of using `dataDir` as a data directory, without creating anything. */
export function inspectDataDir(dataDir: string): DataDirProblem {
  const dirStat = statSync(dataDir, { throwIfNoEntry: false });
  if (dirStat && !dirStat.isDirectory()) return { kind: 'not-a-directory' };
  const storeFile = dataPaths(dataDir).store;
  if (!dirStat || !statSync(storeFile, { throwIfNoEntry: false })) return { kind: 'missing-store', storeFile };
  return null;
}

/** One line naming the path and the way out, for a data directory that is a file. */
export function notADirectoryMessage(location: StoreLocation): string {
  return `data directory ${location.dataDir} (${describeDataDirSource(location)}) is a file, not a directory; ` +
    'point --data-dir, MXWARD_DATA_DIR or dataDir in the config file at a directory';
}

export function missingStoreMessage(location: StoreLocation, storeFile: string): string {
  return `no mxward store at ${storeFile} (data directory ${describeDataDirSource(location)}); ` +
    'run the command with the gateway\'s --config FILE or --data-dir DIR (or MXWARD_CONFIG / MXWARD_DATA_DIR), ' +
    'or create a store there with "mxward init"';
}
