// What the Postfix front ends (policy service, milter) need from the rest of mxward, passed in:
// the live policy, the store (users, trace), the end-of-DATA checks and the clock.
import type { Logger } from 'pino';
import type { RuleHit, TraceRecord } from '../domain/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { EndOfDataCheck } from '../smtp/context.ts';
import type { Store, TraceWriteOptions } from '../store/ports.ts';
import type { ClientCertificateRegistry } from './client-certificates.ts';
import type { TraceSource } from './postfix-facts.ts';
import { sourceHit } from './postfix-facts.ts';

export interface IntegrationContext {
  currentPolicy(): CompiledPolicy;
  store: Store;
  authservId: string;
  hostname: string;
  maxMessageBytes: number;
  endOfDataChecks: EndOfDataCheck[];
  logger: Logger;
  now(): Date;
  /** Shared by the policy service and the milter when they run in one process. */
  certificates?: ClientCertificateRegistry;
}

/**
 * Writes a trace record marked with its front end; a trace failure is logged, never fatal.
 * `background`: no answer waits on it, so the store may batch it with others.
 */
export async function writeTrace(ctx: IntegrationContext, record: TraceRecord, source: TraceSource, options?: TraceWriteOptions): Promise<void> {
  const hits: RuleHit[] = [sourceHit(source), ...record.hits];
  try {
    await ctx.store.appendTrace({ ...record, hits, source }, options);
  } catch (err) {
    ctx.logger.error({ stage: 'trace', event: 'write-failed', source, err }, 'trace write failed');
  }
}
