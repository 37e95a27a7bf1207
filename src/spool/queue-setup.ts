// Builds the delivery side from the bootstrap's `delivery:` section: the target (embedded
// Maildir, or routed SMTP/LMTP), the queue runner with its retry schedule, bounces through
// dsn.ts, trace updates, and the back-pressure check. Called once from app.ts.
import type { Logger } from 'pino';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { onlyMaildir, routingTableOf } from '../config/delivery-schema.ts';
import type { TraceStore } from '../store/ports.ts';
import { BackPressure } from './back-pressure.ts';
import type { DeliveryTarget } from './delivery.ts';
import { spoolDsn } from './dsn.ts';
import { QueueRunner } from './queue-runner.ts';
import type { Spool } from './spool.ts';
import { MaildirTarget } from './targets/maildir.ts';
import { RoutedTarget } from './targets/routed.ts';

export function deliveryTargetFor(config: BootstrapConfig, maildirRoot: string): DeliveryTarget {
  const maildir = new MaildirTarget(maildirRoot);
  if (onlyMaildir(config.delivery)) return maildir;
  return new RoutedTarget(routingTableOf(config.delivery), config.hostname, maildir);
}

export interface QueueSetup {
  queue: QueueRunner;
  backPressure: BackPressure;
}

export async function startQueue(input: { config: BootstrapConfig; spool: Spool; target: DeliveryTarget; store: TraceStore; logger: Logger; recovered: string[]; workers?: number }): Promise<QueueSetup> {
  const { config, spool, store, logger } = input;
  const d = config.delivery;
  const queue = new QueueRunner(spool, input.target, {
    onFinished: (r) => {
      // Debug only: the trace update below logs the transaction's own `delivery outcome` line at info.
      logger.debug({ stage: 'delivery', event: r.status, queueId: r.queueId, attempts: r.attempts, reply: r.lastReply }, 'delivery attempt finished');
      store.updateDelivery({ queueId: r.queueId, status: r.status, detail: r.detail, attempts: r.attempts, lastReply: r.lastReply }, { background: true })
        .catch((err) => logger.error({ stage: 'delivery', event: 'trace-failed', err }, 'trace update failed'));
    },
    onError: (queueId, err) => logger.error({ stage: 'delivery', event: 'error', queueId, err }, 'delivery error'),
    onPermanentFailure: async (envelope, failed) => {
      const id = await spoolDsn(spool, envelope, failed, config.hostname);
      logger.info({ stage: 'delivery', event: 'bounce', queueId: envelope.queueId, dsnQueueId: id, recipients: failed.map((r) => r.address) }, 'delivery status notification queued');
      return id;
    },
  }, {
    concurrency: d.concurrency,
    retryDelaysMs: d.retryDelaysSeconds.map((s) => Math.round(s * 1000)),
    maxQueueLifetimeMs: Math.round(d.maxQueueLifetimeHours * 3600 * 1000),
    rescanMs: Math.round(d.rescanSeconds * 1000),
  });
  for (const id of input.recovered) queue.enqueue(id);
  if (input.recovered.length > 0) logger.info({ stage: 'spool', event: 'recovered', count: input.recovered.length }, 'recovered queued messages');
  await queue.startRescan();
  // The queue limit is for the whole spool: each of N workers holds about 1/N of it.
  const limits = { ...d.spool, maxQueuedMessages: Math.ceil(d.spool.maxQueuedMessages / (input.workers ?? 1)) };
  return { queue, backPressure: new BackPressure(spool.root, limits, () => queue.size) };
}
