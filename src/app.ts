// The only place real adapters are wired together (DESIGN.md): store, live policy, spool, queue
// runner, delivery target and the SMTP listeners.
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { access, constants as fsConstants } from 'node:fs/promises';
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
import { digestLinks } from './services/quarantine-actions.ts';
import type { RecipientLinkSigner } from './services/quarantine-actions.ts';
import type { QuarantineService } from './quarantine/quarantine-service.ts';
import type { Store } from './store/ports.ts';
import { createGatewayLogger } from './observability/logger.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { observeStore } from './observability/observed-store.ts';
import { startAdminServer } from './observability/admin-server.ts';
import type { AdminServer } from './observability/admin-server.ts';
import { observeDnsLookups } from './observability/dns-timing.ts';
import { startTracePurge } from './observability/retention.ts';
import { countEntries, nodeIdFor, stampTraceNode, startNodeHeartbeat } from './services/nodes.ts';
import type { NodeHeartbeat } from './services/nodes.ts';
import { startQueueCommandAgent } from './services/queue-admin.ts';
import { withTraceOutbox } from './store/postgres/trace-outbox.ts';
import type { TraceOutbox } from './store/postgres/trace-outbox.ts';
import { join } from 'node:path';
import { startConsole } from './web/console-setup.ts';
import type { RunningConsole } from './web/console-setup.ts';

export interface GatewayOptions {
  config: BootstrapConfig;
  dataDir: string;
  /** `serve --listen HOST:PORT` */
  inboundOverride?: { host: string; port: number };
  /** The port a primary chose for a submission listener configured on port 0. */
  submissionOverride?: { host: string; port: number };
  logger?: Logger;
  endOfDataChecks?: EndOfDataCheck[];
  quarantine?: QuarantineSink | null;
  deliveryTarget?: DeliveryTarget;
  /** One of `serve --workers N` (serve-workers.ts): listeners with SO_REUSEPORT, a share of the spool. */
  worker?: { index: number; count: number };
}

export interface RunningGateway {
  inbound: AddressInfo;
  submission: AddressInfo | null;
  store: Store;
  queue: QueueRunner;
  livePolicy: LivePolicy;
  /** The built-in quarantine, unless options.quarantine replaced it. */
  quarantine: QuarantineService | null;
  /** The admin listener (metrics, health), when the bootstrap enables it. */
  admin: AdminServer | null;
  metrics: GatewayMetrics;
  /** Trace writes waiting on local disk for an unreachable PostgreSQL (null on SQLite). */
  traceOutbox: TraceOutbox | null;
  /** This node's row in the nodes table; beat() writes it now (tests, shutdown). */
  heartbeat: NodeHeartbeat;
  /** The admin API and web console (bootstrap `console`; first worker only), with its identities. */
  console: RunningConsole | null;
  stop(): Promise<void>;
}

export function createLogger(level: BootstrapConfig['logLevel'], worker?: { index: number }, format?: BootstrapConfig['logFormat']): Logger {
  return createGatewayLogger({ level, worker, format });
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config, dataDir } = options;
  const worker = options.worker && options.worker.count > 1 ? options.worker : undefined;
  const logger = options.logger ?? createLogger(config.logLevel, worker, config.logFormat);
  const paths = dataPaths(dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Waits for the schema, so a PostgreSQL server that cannot be reached fails start-up, not mail.
  const openedStore = await openStoreReady({ url: config.store.url, dataDir });
  // Issue 14: while PostgreSQL is down, trace writes go to a local outbox and reach it later.
  const { store: rawStore, outbox: traceOutbox } = config.store.url
    ? await withTraceOutbox(openedStore, join(dataDir, `trace-outbox${worker ? `-${worker.index}` : ''}.jsonl`), logger)
    : { store: openedStore, outbox: null };
  const livePolicy = await LivePolicy.load(rawStore, logger);
  livePolicy.start(config.policyPollMs);

  const spool = new Spool(paths.spool, worker, { journal: true });
  // Issue 16: every trace write and delivery result also becomes an outcome log line and metrics.
  const metrics = new GatewayMetrics({
    policyVersion: () => livePolicy.current().version, queueDir: spool.queueDir, probeStore: () => rawStore.readPolicyVersion(),
  });
  const stopDnsTiming = observeDnsLookups(metrics.dnsLookupSeconds);
  const store = observeStore(rawStore, logger, metrics);
  const recovered = await spool.recover();
  const target = options.deliveryTarget ?? deliveryTargetFor(config, paths.maildir);
  const { queue, backPressure } = await startQueue({ config, spool, target, store, logger, recovered, workers: worker?.count ?? 1 });
  // An entry in a sibling worker's share (a release resumed here) is left to its owner's rescan.
  const queued = (id: string) => { if (spool.owns(id)) queue.enqueue(id); else spool.requestRescan().catch(() => {}); };

  // Issue 3: authentication checks and the quarantine come from the bootstrap unless a caller
  // supplies its own. Its maintenance (digests, purge, resumed releases) runs in one worker only.
  // The digest's console link is signed by the console's identities, which start further down.
  let linkSigner: RecipientLinkSigner | null = null;
  const quarantine = options.quarantine === undefined
    ? startQuarantine({ config, dataDir, spool, logger, onQueued: queued, maintenance: !worker || worker.index === 0, recipientLink: digestLinks(config, () => linkSigner) })
    : null;
  const tls = await loadTlsMaterial(config, paths.tls);
  // Set once the inbound listener has its port (port 0 in tests); no mail is traced before that.
  let nodeId = '';
  const ctx: GatewayContext = {
    config,
    authservId: config.authservId ?? config.hostname,
    currentPolicy: () => livePolicy.current(),
    store: stampTraceNode(store, () => nodeId),
    spool,
    onQueued: queued,
    logger,
    limiter: new ConnectionLimiter(config.limits.maxConnections, config.limits.maxConnectionsPerIp, config.limits.ipv6PrefixLength),
    endOfDataChecks: options.endOfDataChecks ?? buildAuthChecks(config),
    quarantine: options.quarantine === undefined ? quarantine!.service : options.quarantine,
    now: () => new Date(),
    admission: () => backPressure.check(),
  };

  const inboundAt = options.inboundOverride ?? config.listeners.inbound;
  const inboundServer = createListener(ctx, 'inbound', tls);
  const reusePort = worker !== undefined;
  const inbound = await listen(inboundServer, inboundAt.host, inboundAt.port, reusePort);
  nodeId = nodeIdFor(inbound.port, worker);
  let submissionServer = null;
  let submission: AddressInfo | null = null;
  if (config.listeners.submission) {
    submissionServer = createListener(ctx, 'submission', tls);
    const at = options.submissionOverride ?? config.listeners.submission;
    submission = await listen(submissionServer, at.host, at.port, reusePort);
  }
  const maintenance = !worker || worker.index === 0;
  const purge = config.retention.traceDays > 0 && maintenance ? startTracePurge(rawStore, config.retention.traceDays, logger) : null;
  const admin = config.admin ? await startAdminServer(
    { host: config.admin.host, port: config.admin.port === 0 ? 0 : config.admin.port + (worker?.index ?? 0) },
    metrics,
    [
      { name: 'listeners', probe: async () => { if (!inboundServer.server.listening || (submissionServer && !submissionServer.server.listening)) throw new Error('not listening'); } },
      { name: 'store', probe: async () => { await rawStore.readPolicyVersion(); } },
      { name: 'spool', probe: () => access(spool.tmpDir, fsConstants.W_OK) },
    ],
  ) : null;
  // Issue 13: the admin API and console, in one worker (sessions and tokens live in the store).
  const consoleServer = config.console && maintenance ? await startConsole({
    config, dataDir, store, livePolicy, quarantine: quarantine?.service ?? null, spool, logger, tls,
  }) : null;
  linkSigner = consoleServer?.identities.recipientLinkSigner() ?? null;
  // Issue 14: this node's row in the nodes table (policy version in force, heartbeat, queue depth).
  const heartbeat = startNodeHeartbeat({
    store: rawStore, livePolicy, logger, nodeId, address: `${inbound.address}:${inbound.port}`,
    queueDepth: () => queue.size, quarantineCount: () => countEntries(paths.quarantine),
  });
  // Issue 14: this node's queue for `queue list --all-nodes`, and retry/flush/delete from other nodes.
  const cluster = rawStore.clusterQueue?.();
  const queueAgent = cluster ? startQueueCommandAgent({ cluster, spool, listing: new Spool(paths.spool, worker), nodeId: () => nodeId, logger }) : null;
  logger.info({ stage: 'start', event: 'listening', inbound, submission, admin: admin?.address ?? null, dataDir }, 'mxward listening');

  return {
    inbound, submission, store, queue, livePolicy, quarantine: quarantine?.service ?? null, admin, metrics, traceOutbox, console: consoleServer, heartbeat,
    async stop() {
      await consoleServer?.close();
      heartbeat.stop();
      queueAgent?.stop();
      livePolicy.stop();
      purge?.stop();
      stopDnsTiming();
      await admin?.close();
      await Promise.all([closeListener(inboundServer), submissionServer ? closeListener(submissionServer) : Promise.resolve()]);
      await queue.stop();
      await spool.close();
      await quarantine?.stop();
      await store.close();
      logger.flush?.();
    },
  };
}
