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
import { QueueRunner } from './spool/queue-runner.ts';
import type { DeliveryTarget } from './spool/delivery.ts';
import { MaildirTarget } from './spool/targets/maildir.ts';
import { LivePolicy } from './store/live-policy.ts';
import { SqliteStore } from './store/sqlite/sqlite-store.ts';
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
  const store = new SqliteStore(paths.store);
  const livePolicy = await LivePolicy.load(store, logger);
  livePolicy.start(config.policyPollMs);

  const spool = new Spool(paths.spool);
  const recovered = await spool.recover();
  const target = options.deliveryTarget ?? new MaildirTarget(paths.maildir);
  const queue = new QueueRunner(spool, target, {
    onFinished: (queueId, status, detail) => {
      logger.info({ stage: 'delivery', event: status, queueId, detail }, 'delivery attempt finished');
      store.updateDelivery({ queueId, status, detail }).catch((err) => logger.error({ stage: 'delivery', event: 'trace-failed', err }, 'trace update failed'));
    },
    onError: (queueId, err) => logger.error({ stage: 'delivery', event: 'error', queueId, err }, 'delivery error'),
  }, { concurrency: 8, retryDelaysMs: [60_000, 300_000, 900_000, 3_600_000], maxQueueLifetimeMs: 5 * 24 * 3600 * 1000 });
  for (const id of recovered) queue.enqueue(id);
  if (recovered.length > 0) logger.info({ stage: 'spool', event: 'recovered', count: recovered.length }, 'recovered queued messages');

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
    endOfDataChecks: options.endOfDataChecks ?? [],
    quarantine: options.quarantine ?? null,
    now: () => new Date(),
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
    inbound, submission, store, queue, livePolicy,
    async stop() {
      livePolicy.stop();
      await Promise.all([closeListener(inboundServer), submissionServer ? closeListener(submissionServer) : Promise.resolve()]);
      await queue.stop();
      await store.close();
      logger.flush?.();
    },
  };
}
