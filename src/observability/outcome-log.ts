// One structured line per transaction outcome at info (issue 16): accepted, refused (with the
// reply), quarantined, junked, tempfailed or abandoned at the end of the SMTP transaction, and
// delivered, deferred or bounced when the queue runner finishes an attempt. Every line carries
// the trace id (the trace record's transactionId, `mxward trace --json`) and the queue id.
// Addresses and replies only: never the subject, a header or the body.
import type { Logger } from 'pino';
import type { TraceRecord } from '../domain/types.ts';
import type { DeliveryUpdate } from '../store/ports.ts';

const EVENT_BY_VERDICT: Record<TraceRecord['verdict'], string> = {
  accept: 'accepted', quarantine: 'quarantined', junk: 'accepted-as-junk', reject: 'refused', tempfail: 'tempfailed', abandoned: 'abandoned',
};

export function logTransactionOutcome(logger: Logger, record: TraceRecord): void {
  // Below info nothing is written, so the line's fields are not even gathered.
  if (!logger.isLevelEnabled('info')) return;
  logger.info({
    stage: 'transaction',
    event: EVENT_BY_VERDICT[record.verdict] ?? record.verdict,
    traceId: record.transactionId,
    queueId: record.queueId,
    quarantineId: record.quarantineId,
    sessionId: record.sessionId,
    reply: record.reply,
    at: record.stage,
    remoteIp: record.remoteIp,
    attribution: record.attribution,
    connector: record.connector,
    mailFrom: record.mailFrom,
    recipients: record.recipients.length,
    refusedRecipients: record.rejectedRecipients?.length ?? 0,
    directSend: record.directSend,
    compauth: record.auth ? `${record.auth.compauth.result} reason=${record.auth.compauth.reason}` : null,
    durationMs: record.durationMs,
  }, 'transaction outcome');
}

const EVENT_BY_STATUS: Partial<Record<DeliveryUpdate['status'], string>> = { delivered: 'delivered', deferred: 'deferred', failed: 'bounced' };

export function logDeliveryOutcome(logger: Logger, update: DeliveryUpdate, traceId: string | null): void {
  logger.info({
    stage: 'transaction',
    event: EVENT_BY_STATUS[update.status] ?? update.status,
    traceId,
    queueId: update.queueId,
    attempts: update.attempts ?? null,
    reply: update.lastReply ?? null,
    detail: update.detail,
  }, 'delivery outcome');
}
