// The only place real adapters are wired together (DESIGN.md): store, live policy, spool, queue
// runner, delivery target and the SMTP listeners.
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import pino from 'pino';
import type { Logger } from 'pino';
import type { BootstrapConfig } from './config/bootstrap.ts';
import { dataPaths } from './config/data-dir.ts';
import type { EndOfDataCheck, GatewayContext, QuarantineSink } from './smtp/context.ts';
import { ConnectionLimiter } from './smtp/connection-limits.ts';
import { closeListener, createListener, listen } from './smtp/server.ts';
import { loadTlsMaterial } from './smtp/tls-material.ts';
import { Spool } from './spool/spool.ts';
import type { QueueRunner } from './spool/queue-runner.ts';
import type { DeliveryTarget } from './spool/delivery.ts';
import { deliveryTargetFor, startQueue } from './spool/queue-setup.ts';
import { LivePolicy } from './store/live-policy.ts';
import { openStoreReady } from './store/open-store.ts';
import { buildAuthChecks } from './auth/auth-setup.ts';
import { startQuarantine } from './quarantine/quarantine-setup.ts';
import type { QuarantineService } from './quarantine/quarantine-service.ts';
import type { Store } from './store/ports.ts';

export interface GatewayOptions {
  config: BootstrapConfig;
  dataDir: string;
  /** `serve --listen HOST:PORT` */
  inboundOverride?: { host: string; port: number };
  logger?: Logger;
  endOfDataChecks?: EndOfDataCheck[];
  quarantine?: QuarantineSink | null;
  deliveryTarget?: DeliveryTarget;
}

export interface RunningGateway {
  inbound: AddressInfo;
  submission: AddressInfo | null;
  store: Store;
  queue: QueueRunner;
  livePolicy: LivePolicy;
  /** The built-in quarantine, unless options.quarantine replaced it. */
  quarantine: QuarantineService | null;
  stop(): Promise<void>;
}

export function createLogger(level: BootstrapConfig['logLevel']): Logger {
  return pino({ level, base: { service: 'mxward' } }, pino.destination({ dest: 2, sync: false }));
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config, dataDir } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const paths = dataPaths(dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Waits for the schema, so a PostgreSQL server that cannot be reached fails start-up, not mail.
  const store = await openStoreReady({ url: config.store.url, dataDir });
  const livePolicy = await LivePolicy.load(store, logger);
  livePolicy.start(config.policyPollMs);

  const spool = new Spool(paths.spool);
  const recovered = await spool.recover();
  const target = options.deliveryTarget ?? deliveryTargetFor(config, paths.maildir);
  const { queue, backPressure } = await startQueue({ config, spool, target, store, logger, recovered });

  // Issue 3: authentication checks and the quarantine come from the bootstrap unless a caller supplies its own.
  const quarantine = options.quarantine === undefined ? startQuarantine({ config, dataDir, spool, logger, onQueued: (id) => queue.enqueue(id) }) : null;
  const tls = await loadTlsMaterial(config, paths.tls);
  const ctx: GatewayContext = {
    config,
    authservId: config.authservId ?? config.hostname,
    currentPolicy: () => livePolicy.current(),
    store,
    spool,
    onQueued: (id) => queue.enqueue(id),
    logger,
    limiter: new ConnectionLimiter(config.limits.maxConnections, config.limits.maxConnectionsPerIp),
    endOfDataChecks: options.endOfDataChecks ?? buildAuthChecks(config),
    quarantine: options.quarantine === undefined ? quarantine!.service : options.quarantine,
    now: () => new Date(),
    admission: () => backPressure.check(),
  };

  const inboundAt = options.inboundOverride ?? config.listeners.inbound;
  const inboundServer = createListener(ctx, 'inbound', tls);
  const inbound = await listen(inboundServer, inboundAt.host, inboundAt.port);
  let submissionServer = null;
  let submission: AddressInfo | null = null;
  if (config.listeners.submission) {
    submissionServer = createListener(ctx, 'submission', tls);
    submission = await listen(submissionServer, config.listeners.submission.host, config.listeners.submission.port);
  }
  logger.info({ stage: 'start', event: 'listening', inbound, submission, dataDir }, 'mxward listening');

  return {
    inbound, submission, store, queue, livePolicy, quarantine: quarantine?.service ?? null,
    async stop() {
      livePolicy.stop();
      await Promise.all([closeListener(inboundServer), submissionServer ? closeListener(submissionServer) : Promise.resolve()]);
      await queue.stop();
      await quarantine?.stop();
      await store.close();
      logger.flush?.();
    },
  };
}
