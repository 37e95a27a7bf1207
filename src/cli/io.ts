// Shared plumbing for the thin CLI commands: argument parsing with --help/--json/--data-dir,
// opening the store, and printing tables or JSON.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { userInfo } from 'node:os';
import { inspectDataDir, missingStoreMessage, notADirectoryMessage, resolveStoreLocation } from '../config/data-dir.ts';
import type { StoreFlags, StoreLocation } from '../config/data-dir.ts';
import { openStore as openSelectedStore, resolveStoreUrl } from '../store/open-store.ts';
import type { Store } from '../store/ports.ts';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** A mistake in how the command was called: printed as one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  'data-dir': { type: 'string' },
  /** Bootstrap file (else MXWARD_CONFIG): its dataDir and store.url choose the store. */
  config: { type: 'string' },
  /** PostgreSQL store (postgres://…); else MXWARD_STORE_URL; else SQLite in the data directory. */
  'store-url': { type: 'string' },
  actor: { type: 'string' },
} as const satisfies Options;

export function parseCommand<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    // Node's parseArgs messages carry advice after the first sentence (about `--`, about option
    // values starting with a dash), some over several lines. A usage error is one line: keep the
    // first sentence and point at --help.
    const message = (err as Error).message;
    const first = message.split('\n')[0].replace(/\. To specify a positional argument.*$/, '');
    throw new UsageError(first === message ? first : `${first} (see --help)`);
  }
}

/**
 * Where the command's store is (data-dir.ts: flag, environment, bootstrap file, default), checked
 * without creating anything: only `serve` and `init` create a store, so an admin command run in
 * the wrong directory says where it looked instead of changing an empty store nobody reads.
 */
export function locateExistingStore(flags: StoreFlags, env: NodeJS.ProcessEnv): StoreLocation {
  const location = resolveStoreLocation(flags, env);
  try {
    resolveStoreUrl(flags['store-url'], env, location.bootstrap?.store.url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (location.url) return location;
  const problem = inspectDataDir(location.dataDir);
  if (problem?.kind === 'not-a-directory') throw new UsageError(notADirectoryMessage(location));
  if (problem?.kind === 'missing-store') throw new UsageError(missingStoreMessage(location, problem.storeFile));
  return location;
}

/**
 * Opens the command's existing store. The old form (data directory flag, env, store URL flag)
 * is kept for callers that do not pass their parsed flags yet; they miss only --config.
 */
export function openStore(flags: StoreFlags | string | undefined, env: NodeJS.ProcessEnv, storeUrlFlag?: string): Store {
  const selected: StoreFlags = typeof flags === 'object' ? flags : { 'data-dir': flags, 'store-url': storeUrlFlag };
  const location = locateExistingStore(selected, env);
  return openSelectedStore({ url: location.url, dataDir: location.dataDir });
}

/** Who made a change, for the audit log: --actor, MXWARD_ACTOR, or the OS user. */
export function actorOf(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (env.MXWARD_ACTOR) return env.MXWARD_ACTOR;
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table; columns are as wide as their widest cell. */
export function printTable(io: CliIo, headers: string[], rows: string[][]): void {
  if (rows.length === 0) {
    io.stdout.write('(none)\n');
    return;
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  io.stdout.write(`${line(headers)}\n${rows.map(line).join('\n')}\n`);
}

export function requirePositional(positionals: string[], index: number, what: string): string {
  const value = positionals[index];
  if (value === undefined || value === '') throw new UsageError(`missing ${what}`);
  return value;
}

export function parseBoolean(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (['true', 'yes', 'on', '1'].includes(value.toLowerCase())) return true;
  if (['false', 'no', 'off', '0'].includes(value.toLowerCase())) return false;
  throw new UsageError(`${flag}: expected true or false, got ${JSON.stringify(value)}`);
}

/** The first line of a stream (a password given on stdin), without its line ending. */
export async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += Buffer.from(chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}
