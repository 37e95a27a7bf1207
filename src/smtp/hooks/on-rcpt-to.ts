// Stage 5 (SPEC §2.5): relay protection, recipient directory, Reject Direct Send, recipient limit,
// and (issue 11) the cap on refused recipients and addresses the local Maildir cannot store.
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { RuleHit, SmtpReply } from '../../domain/types.ts';
import { decideRecipient } from '../../policy/decide.ts';
import { replies } from '../../policy/replies.ts';
import { routingTableOf } from '../../config/delivery-schema.ts';
import type { DeliveryConfig } from '../../config/delivery-schema.ts';
import type { RoutingTable } from '../../spool/routing.ts';
import { routesToMaildir } from '../../spool/routing.ts';
import { maildirUnstorableReason } from '../../spool/targets/maildir.ts';
import { sessionState } from '../context.ts';
import type { GatewayContext, Transaction } from '../context.ts';
import { guardOf } from '../session-limits.ts';
import { SmtpError } from './smtp-error.ts';

/**
 * Synchronous, and a refusal is returned rather than thrown: this hook waits for nothing, and a
 * rejected promise (or a throw) per refused recipient was measurable on the reject path, where
 * every session ends in one (V8's unwinding plus Node's bookkeeping for a rejection that gets its
 * handler a moment later). Null: the recipient is accepted.
 */
export function onRcptTo(ctx: GatewayContext, address: SMTPServerAddress, session: SMTPServerSession): SmtpError | null {
  const state = sessionState(session);
  const tx = state.tx;
  if (!tx?.sender) return new SmtpError(replies.internal); // smtp-server enforces MAIL first; a bug if reached
  tx.lastStage = 'rcpt';
  const limits = ctx.config.limits;
  const guard = guardOf(session);
  // Counted per session until a message is accepted (the guard), so RSET cannot reset it; the
  // transaction's own count is the fallback and the figure for the trace.
  const refused = Math.max(guard?.refusedRecipients ?? 0, refusedCount(tx));
  if (refused >= limits.maxRefusedRecipients) {
    // The refused list is kept for the trace: past the cap the client is told to go (421 closes).
    ctx.logger.warn({ stage: 'rcpt', event: 'refused-limit', sessionId: state.facts.sessionId, ip: state.facts.remoteIp, refused }, 'too many refused recipients');
    tx.lastReply = replies.tooManyRefusedRecipients;
    return new SmtpError(replies.tooManyRefusedRecipients);
  }
  if (tx.recipients.length >= limits.maxRecipients) {
    tx.lastReply = replies.tooManyRecipients;
    return new SmtpError(replies.tooManyRecipients);
  }
  const outcome = decideRecipient(state.policy, tx.sender, address.address);
  if (!outcome.ok) {
    // A Direct Send refused at RCPT is still Direct Send: the trace and `trace --direct-send` show it.
    if (outcome.verdict.hits.some((h) => h.rule === 'rejectDirectSend')) {
      tx.directSend = 'p1';
      tx.wouldReject = true;
    }
    guard?.recipientRefused();
    return refuseRecipient(tx, address.address, outcome.verdict.reply!, outcome.verdict.hits, limits.traceListMax);
  }
  const unstorable = unstorableReason(ctx.config.delivery, address.address);
  if (unstorable) {
    guard?.recipientRefused();
    return refuseRecipient(tx, address.address, replies.unstorableRecipient, [{ rule: 'unstorableRecipient', detail: unstorable }], limits.traceListMax);
  }
  tx.recipients.push(address.address);
  if (outcome.value.directSend && !tx.directSend) {
    tx.directSend = outcome.value.directSend;
    tx.wouldReject = outcome.value.wouldReject;
    tx.hits.push(...outcome.hits);
  }
  return null;
}

function refusedCount(tx: Transaction): number {
  return tx.rejectedRecipientCount ?? tx.rejectedRecipients.length;
}

/**
 * Records a refused recipient for the trace: the first traceListMax addresses with their rule
 * hits, then only the count (transaction-trace.ts writes `… and K more`), so memory stays bounded.
 */
function refuseRecipient(tx: Transaction, address: string, reply: SmtpReply, hits: RuleHit[], traceListMax: number): SmtpError {
  tx.lastReply = reply;
  tx.rejectedRecipientCount = refusedCount(tx) + 1;
  if (tx.rejectedRecipients.length < traceListMax) {
    tx.rejectedRecipients.push(address);
    tx.hits.push(...hits.map((h) => ({ ...h, detail: `${address}: ${h.detail}` })));
  }
  return new SmtpError(reply);
}

/** The routing table compiled once per delivery section (the bootstrap does not change while running). */
const tables = new WeakMap<DeliveryConfig, RoutingTable>();

function unstorableReason(delivery: DeliveryConfig, recipient: string): string | null {
  let table = tables.get(delivery);
  if (!table) {
    table = routingTableOf(delivery);
    tables.set(delivery, table);
  }
  return routesToMaildir(table, recipient) ? maildirUnstorableReason(recipient) : null;
}
