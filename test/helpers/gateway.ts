// Starts a real gateway on 127.0.0.1:0 with its own temporary data directory, for session tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startGateway } from '../../src/app.ts';
import type { GatewayOptions, RunningGateway } from '../../src/app.ts';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import type { BootstrapConfig } from '../../src/config/bootstrap.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import type { TraceFilter } from '../../src/store/ports.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

export interface TestGateway extends RunningGateway {
  dataDir: string;
  /** Applies a policy change through the same path as the CLI and waits until the node runs it. */
  setPolicy(mutate: (doc: PolicyDocument) => PolicyDocument): Promise<void>;
  /** The newest trace record matching the filter, waiting (bounded) for the session to end. */
  waitForTrace(filter: TraceFilter, timeoutMs?: number): Promise<TraceRecord>;
  close(): Promise<void>;
}

export interface TestGatewayOptions extends Partial<Omit<GatewayOptions, 'config' | 'dataDir'>> {
  /** Bootstrap overrides, merged over the defaults (ports are always 0). */
  config?: Record<string, unknown>;
  policy?: (doc: PolicyDocument) => PolicyDocument;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-test-'));
  const raw = {
    hostname: 'mx.test.example',
    policyPollMs: 50,
    logLevel: 'silent',
    // Session tests not about email authentication must not wait on DNS (live DNS is blocked in
    // tests); authentication tests pass their own `auth` section with the loopback DNS server.
    auth: { enabled: false },
    ...options.config,
    listeners: { inbound: { host: '127.0.0.1', port: 0 }, submission: { host: '127.0.0.1', port: 0 } },
  };
  const config: BootstrapConfig = bootstrapSchema.parse(raw);
  const { config: _c, policy, ...rest } = options;
  const gateway = await startGateway({ logger: pino({ level: 'silent' }), ...rest, config, dataDir });
  const setPolicy = async (mutate: (doc: PolicyDocument) => PolicyDocument) => {
    const saved = await changePolicy(gateway.store, 'test', 'test.policy', mutate);
    await gateway.livePolicy.waitForVersion(saved.version);
  };
  if (policy) await setPolicy(policy);
  return {
    ...gateway, dataDir, setPolicy,
    async waitForTrace(filter, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [record] = await gateway.store.queryTrace({ ...filter, limit: 1 });
        if (record) return record;
        if (Date.now() > deadline) throw new Error(`no trace record for ${JSON.stringify(filter)} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await gateway.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
