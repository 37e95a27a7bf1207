// One trace record per transaction, rejected ones included (SPEC §7). A transaction ends at end
// of DATA, at a rejection of MAIL FROM, or when the client resets, starts over or leaves.
import type { AuthResults, DeliveryStatus, MessageFacts, TraceRecord } from '../domain/types.ts';
import { renderReply } from '../policy/replies.ts';
import type { TraceWriteOptions } from '../store/ports.ts';
import type { GatewayContext, SessionState, Transaction } from './context.ts';
import { newTransactionId } from './transaction-id.ts';

/** The transaction id is a time-ordered UUID (transaction-id.ts). */
export function startTransaction(): Transaction {
  return {
    id: newTransactionId(), startedMs: Date.now(), sender: null, rawMailFrom: null, recipients: [], rejectedRecipients: [],
    directSend: null, wouldReject: false, hits: [], lastReply: null, lastStage: 'mail',
  };
}

export interface TransactionEnd {
  verdict: TraceRecord['verdict'];
  message?: MessageFacts;
  auth?: AuthResults | null;
  queueId?: string | null;
  quarantineId?: string | null;
  deliveryStatus?: DeliveryStatus;
}

export function buildTraceRecord(state: SessionState, tx: Transaction, end: TransactionEnd, now: Date): TraceRecord {
  const f = state.facts;
  const cert = f.tls?.clientCertificate ?? null;
  return {
    time: new Date(tx.startedMs).toISOString(),
    sessionId: f.sessionId,
    transactionId: tx.id,
    remoteIp: f.remoteIp,
    helo: f.helo,
    ptr: f.ptr,
    tlsVersion: f.tls?.version ?? null,
    tlsCipher: f.tls?.cipher ?? null,
    tlsClientCertificate: cert ? `${cert.dnsNames.join(',') || cert.subjectCN || '?'}${cert.verified ? '' : ' (unverified)'}` : null,
    authUser: f.authUser,
    connector: tx.sender?.connector ?? null,
    attribution: tx.sender?.attribution ?? (f.authUser ? 'internal' : 'anonymous'),
    mailFrom: tx.rawMailFrom,
    recipients: tx.recipients,
    rejectedRecipients: withOmittedCount(tx.rejectedRecipients, tx.rejectedRecipientCount),
    headerFrom: end.message?.headerFrom ?? [],
    messageId: end.message?.messageId ?? null,
    subject: end.message?.subject ?? null,
    sizeBytes: end.message?.sizeBytes ?? null,
    directSend: tx.directSend,
    directSendWouldReject: tx.wouldReject,
    auth: end.auth ?? null,
    verdict: end.verdict,
    reply: tx.lastReply ? renderReply(tx.lastReply) : '',
    stage: tx.lastStage,
    hits: tx.hits,
    queueId: end.queueId ?? null,
    quarantineId: end.quarantineId ?? null,
    deliveryStatus: end.deliveryStatus ?? 'not-queued',
    durationMs: now.getTime() - tx.startedMs,
  };
}

/**
 * A list the hooks kept only the first entries of (limits.traceListMax), closed with how many
 * were left out, so the record stays small and still says how big the attempt was.
 */
export function withOmittedCount(kept: string[], total: number | undefined): string[] {
  const omitted = (total ?? kept.length) - kept.length;
  return omitted > 0 ? [...kept, `… and ${omitted} more`] : kept;
}

/**
 * Writes the record; a trace failure is logged, never turned into a lost message. `background`:
 * no reply waits on the write (the session has closed), so the store may batch it.
 */
export async function finishTransaction(ctx: GatewayContext, state: SessionState, end: TransactionEnd, options?: TraceWriteOptions): Promise<void> {
  const tx = state.tx;
  if (!tx) return;
  state.tx = null;
  const record = buildTraceRecord(state, tx, end, ctx.now());
  try {
    await ctx.store.appendTrace(record, options);
  } catch (err) {
    ctx.logger.error({ stage: 'trace', event: 'write-failed', transactionId: tx.id, err }, 'trace write failed');
  }
}

/** A transaction abandoned without DATA (RSET, new MAIL, QUIT): trace what was decided. */
export async function abandonTransaction(ctx: GatewayContext, state: SessionState, options?: TraceWriteOptions): Promise<void> {
  const tx = state.tx;
  if (!tx) return;
  const code = tx.lastReply?.code ?? 0;
  await finishTransaction(ctx, state, { verdict: code >= 500 ? 'reject' : code >= 400 ? 'tempfail' : 'abandoned' }, options);
}
