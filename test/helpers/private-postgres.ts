// A private PostgreSQL cluster for tests: initdb into a temporary directory, a free port on
// 127.0.0.1, trust auth, its socket in the same directory. Used when no server answers (a clean
// runner) and by the outage tests, which must stop and start a server without touching the
// machine's own. Needs the Debian `postgresql` package (initdb and pg_ctl under
// /usr/lib/postgresql/<major>/bin); as root it runs them as the `postgres` user, as initdb demands.
import { execFile, spawnSync } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface PrivatePostgres {
  /** Admin URL (database `postgres`, user `postgres`). */
  url: string;
  port: number;
  /** Stops the server (fast shutdown: open connections are cut, as in an outage). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/** The directory holding initdb and pg_ctl: PG_BIN, the newest Debian major version, else PATH. */
export function postgresBinDir(): string | null {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return join(root, majors[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  return found.status === 0 ? join(found.stdout.trim(), '..') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, rejectPort) => {
    const server = createServer();
    server.once('error', rejectPort);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** runuser lives in sbin, which a CI runner's PATH may leave out (seen: spawn runuser ENOENT). */
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser'].find((p) => existsSync(p)) ?? 'runuser';

/** initdb refuses to run as root: there, run every server command as the postgres user. */
function asServerUser(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? [RUNUSER, ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<void> {
  const [c, a] = asServerUser(cmd, args);
  try {
    await execFileAsync(c, a, { timeout: timeoutMs });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries (install the Debian postgresql package)');
  const dir = await mkdtemp(join(tmpdir(), 'mxward-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    await chown(dir, id('-u'), id('-g'));
  }
  const port = await freePort();
  const pgCtl = join(bin, 'pg_ctl');
  // fsync off: a test cluster never outlives a machine crash, and the tests run faster without it.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  let running = false;
  const cluster: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await run(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', serverOptions, 'start']);
      running = true;
    },
    async stop() {
      if (!running) return;
      await run(pgCtl, ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
    },
    async dispose() {
      process.off('exit', onExit);
      await cluster.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  // A test process that dies without dispose must not leave a server running behind it.
  const onExit = () => {
    if (running) spawnSync(...asServerUser(pgCtl, ['-D', data, '-m', 'immediate', 'stop']));
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  try {
    await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    await cluster.start();
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}
