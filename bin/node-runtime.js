// Which Node runs mxward. Plain JavaScript that any Node since 14 can parse, because it runs
// before the version is known. mxward needs Node 22.19 or later (mailauth and undici use APIs
// added there; Node 22 marks node:sqlite experimental); `npm install` also puts a Node 24 from
// the npm registry into node_modules (optional dependency node-<os>-<cpu>), which is used when
// the Node that started us is older, so a machine with Node 20 needs nothing else.
import { existsSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const MIN = [22, 19];

export function nodeIsEnough(version) {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

/** The Node 24 binary npm installed beside mxward, if this platform has one. */
export function bundledNode() {
  const require = createRequire(import.meta.url);
  const name = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
  try {
    const bin = join(dirname(require.resolve(`${name}/package.json`)), 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
    return existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

/**
 * V8 flags a command needs at start (they cannot be changed once the heap exists). `report`
 * reads a range of a big trace on the main thread, and V8 grows that thread's young generation
 * to 128 MB while rows die young anyway: an 8 MB semi-space took a 1M-row report from 409 to
 * 311 MB peak RSS for no extra CPU. Its worker threads get the same limit (parallel-import.ts).
 * `--expose-gc`: the report's reading threads collect their heaps at a range's end and after each
 * 32 MB of growth (src/report/import/heap-collector.ts); V8 alone let each heap grow to three or
 * four times its live data, and a 20M-row report peaked at 450 to 640 MB RSS.
 */
export const REPORT_NODE_FLAGS = ['--max-semi-space-size=8', '--expose-gc'];

/**
 * Environment a command's child Node gets when the launcher starts one, unless the user set it:
 * glibc gives each thread that allocates its own malloc arena; with two of them the report's
 * threads share, a 5M-row report peaked at 285-290 MB instead of 313-315 MB, for the same CPU
 * (issue 17). Other platforms ignore the variable.
 */
export const REPORT_ENV = { MALLOC_ARENA_MAX: '2' };

/** `env` with what the command in `args` adds to it (a new object; `env` is not changed). */
export function childEnvFor(args, env) {
  if (args[0] !== 'report') return env;
  const out = { ...env };
  for (const [name, value] of Object.entries(REPORT_ENV)) if (out[name] === undefined) out[name] = value;
  return out;
}

/** The flags `args` (the command line after the script) still needs under `execArgv`. */
export function nodeFlagsFor(args, execArgv) {
  const wanted = args[0] === 'report' ? REPORT_NODE_FLAGS : [];
  return wanted.filter((f) => !execArgv.some((a) => a.split('=')[0] === f.split('=')[0]));
}

/**
 * Where `report` keeps Node's compile cache, or null when it should not set one: another command,
 * or the user chose a cache (NODE_COMPILE_CACHE, which Node then enables itself) or turned it off.
 * The system temp directory, as module.enableCompileCache() would choose, and the same one the
 * report's worker threads use (src/report/import/parallel-import.ts). A report loads some two
 * hundred TypeScript modules; from the second run on, their type-stripped, compiled code comes
 * from the cache, which took about 0.2 s off the 0.45 s a report spent before its first row.
 */
export function compileCacheFor(args, env) {
  if (args[0] !== 'report' || env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return null;
  return join(tmpdir(), 'node-compile-cache');
}

/** Turns the compile cache on for the modules imported from now on, where this Node has one and the directory can be made. */
export function enableCompileCacheFor(args, env) {
  const dir = compileCacheFor(args, env);
  if (!dir || typeof nodeModule.enableCompileCache !== 'function' || !cacheDirectoryReady(dir)) return null;
  nodeModule.enableCompileCache(dir);
  return dir;
}

/**
 * Whether the cache directory exists or could be made, one level only. Node makes it with a
 * recursive mkdir that never returns where mkdir answers ENOENT under a parent that exists (a
 * temp directory under /proc: seen with Node 24.22), which would hang the report before its first
 * row; without the directory the report simply runs without the cache.
 */
function cacheDirectoryReady(dir) {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    return err !== null && typeof err === 'object' && err.code === 'EEXIST';
  }
}

export function tooOldMessage(what) {
  return `${what} needs Node.js ${MIN.join('.')} or later; this is ${process.version} and no Node 24 was found in node_modules. ` +
    'Run "npm install" in the mxward directory (it fetches Node 24 for Linux x64/arm64 and macOS x64), or install Node 24.\n';
}

/**
 * Runs `args` under the bundled Node, passing signals on (systemd's SIGTERM reaches us, not
 * the child) and exiting as it exits. Never returns.
 */
export function reexec(bin, args, env = process.env) {
  const child = spawn(bin, args, { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    process.stderr.write(`mxward: cannot start ${bin}: ${err.message}\n`);
    process.exit(2);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

/**
 * Node 22 prints an ExperimentalWarning for node:sqlite on every command; it says nothing an
 * administrator can act on, so it is dropped (other warnings still print).
 */
export function muteExperimentalWarnings() {
  const emit = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type ?? warning?.name;
    if (type === 'ExperimentalWarning') return;
    return emit.call(process, warning, ...rest);
  };
}
