// The store as the gateway sees it, with every trace write also turned into an outcome log line
// and metrics (issue 16). Wrapping the one port every transaction and delivery result passes
// through keeps the SMTP and spool code free of logging and metrics calls.
import type { Logger } from 'pino';
import type { DeliveryUpdate, Store, TraceWriteOptions } from '../store/ports.ts';
import type { TraceRecord } from '../domain/types.ts';
import type { GatewayMetrics } from './metrics.ts';
import { logDeliveryOutcome, logTransactionOutcome } from './outcome-log.ts';

/** Queue ids remembered for the delivery lines' trace id; the oldest are forgotten first. */
const MAX_REMEMBERED = 100_000;

export function observeStore(store: Store, logger: Logger, metrics: GatewayMetrics): Store {
  const traceIdOf = new Map<string, string>();
  const appendTrace = async (record: TraceRecord, options?: TraceWriteOptions) => {
    const written = store.appendTrace(record, options);
    logTransactionOutcome(logger, record);
    metrics.recordTransaction(record);
    if (record.queueId) {
      traceIdOf.set(record.queueId, record.transactionId);
      if (traceIdOf.size > MAX_REMEMBERED) traceIdOf.delete(traceIdOf.keys().next().value!);
    }
    return written;
  };
  const updateDelivery = async (update: DeliveryUpdate, options?: TraceWriteOptions) => {
    const written = store.updateDelivery(update, options);
    logDeliveryOutcome(logger, update, traceIdOf.get(update.queueId) ?? null);
    metrics.recordDelivery(update);
    if (update.status === 'delivered' || update.status === 'failed') traceIdOf.delete(update.queueId);
    return written;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'appendTrace') return appendTrace;
      if (property === 'updateDelivery') return updateDelivery;
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
