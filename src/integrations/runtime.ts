// Wires the Postfix front ends to real adapters (the counterpart of app.ts for `mxward policyd`
// and `mxward milter`): the store, the live policy (changes apply within policyPollMs), the
// email-authentication checks from the bootstrap, and the listener.
import { mkdir } from 'node:fs/promises';
import pino from 'pino';
import type { Logger } from 'pino';
import { buildAuthChecks } from '../auth/auth-setup.ts';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { replies } from '../policy/replies.ts';
import type { EndOfDataCheck } from '../smtp/context.ts';
import { LivePolicy } from '../store/live-policy.ts';
import { openStoreReady } from '../store/open-store.ts';
import type { Store } from '../store/ports.ts';
import { ClientCertificateRegistry } from './client-certificates.ts';
import type { IntegrationContext } from './integration-context.ts';
import { MilterPolicy } from './milter/milter-policy.ts';
import { startMilterServer } from './milter/milter-server.ts';
import { startPolicyServer } from './policy/policy-server.ts';

export type ListenAddress = { host: string; port: number } | { path: string };

export interface IntegrationOptions {
  config: BootstrapConfig;
  dataDir: string;
  listen: ListenAddress;
  logger?: Logger;
  /** Tests pass their own (e.g. authentication against a loopback DNS server). */
  endOfDataChecks?: EndOfDataCheck[];
}

export interface RunningIntegration {
  /** `host:port` or the socket path. */
  address: { address: string; port: number } | string;
  store: Store;
  livePolicy: LivePolicy;
  /** `mxward milter --policy-listen`: the policy service running in the same process. */
  policyAddress?: { address: string; port: number } | string;
  stop(): Promise<void>;
}

async function openContext(options: IntegrationOptions): Promise<{ ctx: IntegrationContext; store: Store; livePolicy: LivePolicy }> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'mxward' } }, pino.destination({ dest: 2, sync: false }));
  if (!config.store.url) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStoreReady({ url: config.store.url, dataDir: options.dataDir });
  const livePolicy = await LivePolicy.load(store, logger);
  livePolicy.start(config.policyPollMs);
  const ctx: IntegrationContext = {
    currentPolicy: () => livePolicy.current(), store, logger,
    authservId: config.authservId ?? config.hostname, hostname: config.hostname,
    maxMessageBytes: config.limits.maxMessageBytes,
    endOfDataChecks: options.endOfDataChecks ?? buildAuthChecks(config),
    now: () => new Date(),
  };
  return { ctx, store, livePolicy };
}

function running(server: { address: unknown; close(): Promise<void> }, store: Store, livePolicy: LivePolicy): RunningIntegration {
  return {
    address: server.address as RunningIntegration['address'], store, livePolicy,
    async stop() {
      livePolicy.stop();
      await server.close();
      await store.close();
    },
  };
}

export async function startPolicyService(options: IntegrationOptions): Promise<RunningIntegration> {
  const { ctx, store, livePolicy } = await openContext(options);
  const server = await startPolicyServer(ctx, options.listen);
  ctx.logger.info({ stage: 'start', event: 'listening', service: 'policyd', address: server.address }, 'mxward policy service listening');
  return running(server, store, livePolicy);
}

export async function startMilterService(options: IntegrationOptions & { policyListen?: ListenAddress }): Promise<RunningIntegration> {
  const { ctx, store, livePolicy } = await openContext(options);
  // One process for both front ends: the policy side lends the milter the certificate fingerprint.
  if (options.policyListen) ctx.certificates = new ClientCertificateRegistry();
  const milter = await startMilterServer(options.listen, {
    handlerFor: () => new MilterPolicy(ctx), logger: ctx.logger,
    maxMessageBytes: ctx.maxMessageBytes, tooBig: replies.tooBig,
  });
  const policy = options.policyListen ? await startPolicyServer(ctx, options.policyListen) : null;
  ctx.logger.info({ stage: 'start', event: 'listening', service: 'milter', address: milter.address, policyAddress: policy?.address }, 'mxward milter listening');
  const both = { address: milter.address, async close() { await Promise.all([milter.close(), policy?.close()]); } };
  return { ...running(both, store, livePolicy), policyAddress: (policy?.address as RunningIntegration['address']) ?? undefined };
}
