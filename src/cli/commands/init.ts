// mxward init: creates the data directory and an empty store where the other commands will look
// for it (the same precedence as serve), so an administrator can set up the policy before the
// first start. Admin commands never create a store themselves (issue 16).
import { mkdirSync } from 'node:fs';
import { dataPaths, inspectDataDir, notADirectoryMessage, resolveStoreLocation } from '../../config/data-dir.ts';
import { openStoreReady, resolveStoreUrl } from '../../store/open-store.ts';
import type { CliIo } from '../io.ts';
import { parseCommand, printJson, UsageError } from '../io.ts';

export const initHelp = `Usage: mxward init [--config FILE] [--data-dir DIR] [--store-url URL] [--json]

Creates the data directory and the store (SQLite in the data directory, or the schema in the
PostgreSQL database of --store-url) where serve and every other command will find it:
flag, then environment (MXWARD_CONFIG, MXWARD_DATA_DIR, MXWARD_STORE_URL), then the config file,
then ./.mxward. Running it again on an existing store changes nothing.
`;

export async function runInit(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {});
  if (values.help) { io.stdout.write(initHelp); return 0; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const location = resolveStoreLocation(values, io.env);
  try {
    resolveStoreUrl(values['store-url'], io.env, location.bootstrap?.store.url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const problem = inspectDataDir(location.dataDir);
  if (problem?.kind === 'not-a-directory') throw new UsageError(notADirectoryMessage(location));
  const existed = location.url === undefined && problem === null;
  mkdirSync(location.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStoreReady({ url: location.url, dataDir: location.dataDir });
  await store.close();
  const where = location.url ? 'the PostgreSQL store' : dataPaths(location.dataDir).store;
  if (values.json) printJson(io, { store: where, dataDir: location.dataDir, created: !existed });
  else io.stdout.write(`${existed ? 'store already exists' : 'created store'}: ${where}\n`);
  return 0;
}
