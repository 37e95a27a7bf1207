// mxward serve: runs the gateway until SIGINT/SIGTERM, then stops accepting, lets transactions in
// flight finish and closes the store.
import { inspectDataDir, notADirectoryMessage, resolveStoreLocation } from '../../config/data-dir.ts';
import type { StoreLocation } from '../../config/data-dir.ts';
import { defaultBootstrap, loadBootstrapFile } from '../../config/bootstrap.ts';
import type { BootstrapConfig } from '../../config/bootstrap.ts';
import { resolveStoreUrl } from '../../store/open-store.ts';
import type { CliIo } from '../io.ts';
import { parseCommand, UsageError } from '../io.ts';
import { resolveWorkerCount, runPrimary, workerPlaceFrom } from '../serve-workers.ts';

export const serveHelp = `Usage: mxward serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--workers N|auto]

  --config FILE       YAML bootstrap file (listeners, TLS, limits); else MXWARD_CONFIG; embedded
                      defaults without either (docs/configuration.md)
  --listen HOST:PORT  override the inbound listener (default 127.0.0.1:2525)
  --data-dir DIR      else MXWARD_DATA_DIR, else dataDir in the config file, else ./.mxward
  --store-url URL     PostgreSQL store (postgres://…); else MXWARD_STORE_URL, else store.url
                      in the config file, else SQLite in the data directory
  --workers N|auto    gateway processes sharing the listeners (SO_REUSEPORT, Linux); default:
                      workers in the config file, else 1; auto = one per CPU on Linux
The organization policy lives in the store: change it with mxward org|domain|connector.
`;

export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen: expected HOST:PORT or [IPv6]:PORT, got ${JSON.stringify(value)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function parseWorkers(value: string): 'auto' | number {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--workers: expected auto or 1-64, got ${JSON.stringify(value)}`);
  return n;
}

/** A worker: tells the primary it listens, stops on its signal, dies with it (serve-workers.ts). */
async function serveAsWorker(gateway: { stop(): Promise<void> }): Promise<number> {
  process.send?.({ type: 'ready' });
  process.channel?.unref();
  // The primary is gone (killed): stop at once, like a crash; an orphan would keep the port.
  process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  await gateway.stop();
  process.removeAllListeners('disconnect');
  return 0;
}

/**
 * The bootstrap file and the store a long-running service (serve, policyd, milter) uses: the same
 * precedence as every admin command (data-dir.ts), so they all find one store. Only services may
 * create the data directory; a path that is a file is refused here.
 */
export function loadServiceSettings(values: { config?: string; 'store-url'?: string; 'data-dir'?: string }, io: CliIo): { config: BootstrapConfig; location: StoreLocation } {
  const configFile = values.config ?? (io.env.MXWARD_CONFIG || undefined);
  const loaded = configFile ? loadBootstrapFile(configFile) : defaultBootstrap();
  const location = resolveStoreLocation(values, io.env, { file: configFile, config: loaded });
  try {
    resolveStoreUrl(values['store-url'], io.env, loaded.store.url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (inspectDataDir(location.dataDir)?.kind === 'not-a-directory') throw new UsageError(notADirectoryMessage(location));
  return { config: { ...loaded, store: { url: location.url } }, location };
}

export async function runServe(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, { config: { type: 'string' }, listen: { type: 'string' }, workers: { type: 'string' } });
  if (values.help) { io.stdout.write(serveHelp); return 0; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const { config, location } = loadServiceSettings(values, io);
  const dataDir = location.dataDir;
  const inboundOverride = values.listen ? parseHostPort(values.listen) : undefined;
  const place = workerPlaceFrom(io.env);
  if (!place) {
    const count = resolveWorkerCount(values.workers === undefined ? config.workers : parseWorkers(values.workers));
    if (count > 1) {
      // The primary's few lines in the same format as its workers' (JSON, or readable on a terminal).
      const { createGatewayLogger } = await import('../../observability/logger.ts');
      const logger = createGatewayLogger({ level: config.logLevel === 'silent' ? 'silent' : 'info', format: config.logFormat });
      return runPrimary({ argv, count, inbound: inboundOverride ?? config.listeners.inbound, submission: config.listeners.submission, dataDir, io, logger });
    }
  }
  // Loaded here: a primary of several workers runs no gateway and stays small.
  const { createLogger, startGateway } = await import('../../app.ts');
  // One logger for the gateway and this command: JSON lines only (or readable ones on a
  // terminal), never plain lines mixed in (issue 16).
  const logger = createLogger(config.logLevel, place && place.count > 1 ? place : undefined, config.logFormat);
  const gateway = await startGateway({
    config, dataDir, logger, inboundOverride: place?.inbound ?? inboundOverride,
    submissionOverride: place?.submission ?? undefined, worker: place ?? undefined,
  });
  if (place) return serveAsWorker(gateway);
  const where = (a: { address: string; port: number }) => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
  // Start and stop are printed whatever logLevel says (unless silent): they are what an
  // administrator and a supervisor look for first.
  const lifecycle = logger.level === 'silent' ? logger : logger.child({}, { level: 'info' });
  lifecycle.info({ stage: 'serve', event: 'ready', inbound: where(gateway.inbound), submission: gateway.submission ? where(gateway.submission) : null,
    admin: gateway.admin ? where(gateway.admin.address) : null, dataDir }, `mxward: inbound SMTP on ${where(gateway.inbound)}`);

  await new Promise<void>((resolveStop) => {
    const onSignal = (signal: string) => {
      lifecycle.info({ stage: 'serve', event: 'stopping', signal }, `mxward: ${signal} received, finishing transactions in flight`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // A repeated signal must not cut the transactions short: Ctrl-C reaches the whole process
      // group, systemd signals the whole cgroup, and bin/mxward.js passes the same signal on.
      process.on('SIGINT', () => {});
      process.on('SIGTERM', () => {});
      resolveStop();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await gateway.stop();
  return 0;
}
