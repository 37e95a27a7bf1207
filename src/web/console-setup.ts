// Starts the admin API and console listener for a gateway (bootstrap `console`): the identity
// service over the node's store, the first administrator account on a fresh install, and the
// HTTP(S) server with every API route. Called from app.ts, which supplies the running parts.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generatePassword, openIdentityService } from '../services/identities.ts';
import type { IdentityService } from '../services/identities.ts';
import { mxwardVersion } from '../services/nodes.ts';
import type { ApiDeps } from './api-route.ts';
import { startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

export const INITIAL_PASSWORD_FILE = 'console-initial-password';

/** The gateway's running parts the API routes use (ApiDeps without identities, made here). */
export interface ConsoleOptions extends Omit<ApiDeps, 'identities'> {
  /** The gateway's key and certificate (smtp/tls-material.ts), used when console.tls is true. */
  tls: { key: string; cert: string };
}

export interface RunningConsole {
  server: WebServer;
  identities: IdentityService;
  deps: ApiDeps;
  close(): Promise<void>;
}

/**
 * A fresh install gets one administrator, `admin`, with a random password in a 0600 file in the
 * data directory: the log says where the file is, never the password.
 */
export async function ensureInitialAdmin(identities: IdentityService, dataDir: string, logger: Logger): Promise<string | null> {
  if (await identities.hasAccounts()) return null;
  const password = generatePassword();
  try {
    await identities.addAccount('admin', 'administrator', password, 'mxward:first-start');
  } catch (err) {
    // Another node of the same store made it a moment ago: its file has the password.
    if ((err as { code?: string }).code === 'conflict') return null;
    throw err;
  }
  const file = join(dataDir, INITIAL_PASSWORD_FILE);
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  logger.warn({ stage: 'console', event: 'initial_account', username: 'admin', passwordFile: file },
    `console account "admin" created; its password is in ${file} (change it, then delete the file)`);
  return file;
}

export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const settings = options.config.console;
  if (!settings) throw new Error('startConsole without a console section');
  const identities = await openIdentityService({ url: options.config.store.url, dataDir: options.dataDir, config: options.config, store: options.store });
  try {
    await ensureInitialAdmin(identities, options.dataDir, options.logger);
    const deps: ApiDeps = {
      config: options.config, dataDir: options.dataDir, store: options.store, livePolicy: options.livePolicy,
      quarantine: options.quarantine, spool: options.spool, logger: options.logger, identities,
    };
    // Loaded only when the console is on: a gateway without it does not load the API's modules.
    const { apiRoutes } = await import('./routes/index.ts');
    const server = await startWebServer({
      routes: apiRoutes, deps, host: settings.host, port: settings.port, tls: settings.tls ? options.tls : null,
      maxBodyBytes: settings.maxBodyBytes, version: await mxwardVersion(),
    });
    options.logger.info({ stage: 'console', event: 'listening', url: `${server.url}/console/` }, 'console listening');
    return {
      server, identities, deps,
      async close() {
        await server.close();
        await identities.close();
      },
    };
  } catch (err) {
    await identities.close();
    throw err;
  }
}
