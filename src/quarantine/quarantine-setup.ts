// Opens the quarantine (issue 3) in one way for every caller: the gateway (startQuarantine, from
// app.ts, with its maintenance timer) and `mxward quarantine` (openQuarantine, no timer) get the
// same store selection, directory and settings, and so the same QuarantineService behaviour.
import type { Logger } from 'pino';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { dataPaths } from '../config/data-dir.ts';
import type { Spool } from '../spool/spool.ts';
import { openQuarantineStore } from '../store/open-store.ts';
import { QuarantineService } from './quarantine-service.ts';
import type { QuarantineServiceOptions } from './quarantine-service.ts';

export interface RunningQuarantine {
  service: QuarantineService;
  stop(): Promise<void>;
}

export interface QuarantineOpenInput {
  config: BootstrapConfig;
  /** The store URL chosen by the caller (flag, environment, bootstrap); else config.store.url. */
  storeUrl?: string;
  dataDir: string;
  spool: Spool;
  onQueued(queueId: string): void | Promise<void>;
  /** A signed console link for the digest (issue 13), wired where the console runs. */
  recipientLink?: QuarantineServiceOptions['recipientLink'];
}

/** The service on its own store connection; `close` closes that connection. */
export function openQuarantine(input: QuarantineOpenInput): { service: QuarantineService; close(): Promise<void> } {
  const paths = dataPaths(input.dataDir);
  // The quarantine follows the store selection: on PostgreSQL its state, audit entries and the
  // release's trace update go to the database every node shares; the message files stay in dataDir.
  const store = openQuarantineStore({ url: input.storeUrl ?? input.config.store.url, dataDir: input.dataDir });
  const service = new QuarantineService({
    store, spool: input.spool, dir: paths.quarantine, settings: input.config.quarantine, hostname: input.config.hostname,
    onQueued: input.onQueued, recipientLink: input.recipientLink,
  });
  return { service, close: () => store.close() };
}

export function startQuarantine(input: QuarantineOpenInput & { logger: Logger; maintenance?: boolean }): RunningQuarantine {
  const { service, close } = openQuarantine(input);
  if (input.maintenance !== false) service.start((err) => input.logger.error({ stage: 'quarantine', event: 'maintenance-failed', err }, 'quarantine maintenance failed'));
  return {
    service,
    async stop() {
      service.stop();
      await close();
    },
  };
}
