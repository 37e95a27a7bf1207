// Opens the quarantine for a running gateway (called from app.ts): its store connection, the
// service that is the QuarantineSink, and its maintenance timer (digests, retention purge).
import type { Logger } from 'pino';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { dataPaths } from '../config/data-dir.ts';
import type { Spool } from '../spool/spool.ts';
import { openQuarantineStore } from '../store/open-store.ts';
import { QuarantineService } from './quarantine-service.ts';

export interface RunningQuarantine {
  service: QuarantineService;
  stop(): Promise<void>;
}

export function startQuarantine(input: { config: BootstrapConfig; dataDir: string; spool: Spool; logger: Logger; onQueued(queueId: string): void; maintenance?: boolean }): RunningQuarantine {
  const paths = dataPaths(input.dataDir);
  // The quarantine follows the store selection: on PostgreSQL its state, audit entries and the
  // release's trace update go to the database every node shares; the message files stay in dataDir.
  const store = openQuarantineStore({ url: input.config.store.url, dataDir: input.dataDir });
  const service = new QuarantineService({
    store, spool: input.spool, dir: paths.quarantine, settings: input.config.quarantine, hostname: input.config.hostname, onQueued: input.onQueued,
  });
  if (input.maintenance !== false) service.start((err) => input.logger.error({ stage: 'quarantine', event: 'maintenance-failed', err }, 'quarantine maintenance failed'));
  return {
    service,
    async stop() {
      service.stop();
      await store.close();
    },
  };
}
