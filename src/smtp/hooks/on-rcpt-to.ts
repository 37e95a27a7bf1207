// Stage 5 (SPEC §2.5): relay protection, recipient directory, Reject Direct Send, recipient limit.
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { decideRecipient } from '../../policy/decide.ts';
import { replies } from '../../policy/replies.ts';
import { sessionState } from '../context.ts';
import type { GatewayContext } from '../context.ts';
import { SmtpError } from './smtp-error.ts';

export async function onRcptTo(ctx: GatewayContext, address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
  const state = sessionState(session);
  const tx = state.tx;
  if (!tx?.sender) throw new SmtpError(replies.internal); // smtp-server enforces MAIL first; a bug if reached
  tx.lastStage = 'rcpt';
  if (tx.recipients.length >= ctx.config.limits.maxRecipients) {
    tx.lastReply = replies.tooManyRecipients;
    throw new SmtpError(replies.tooManyRecipients);
  }
  const outcome = decideRecipient(state.policy, tx.sender, address.address);
  if (!outcome.ok) {
    tx.hits.push(...outcome.verdict.hits.map((h) => ({ ...h, detail: `${address.address}: ${h.detail}` })));
    tx.lastReply = outcome.verdict.reply;
    tx.rejectedRecipients.push(address.address);
    // A Direct Send refused at RCPT is still Direct Send: the trace and `trace --direct-send` show it.
    if (outcome.verdict.hits.some((h) => h.rule === 'rejectDirectSend')) {
      tx.directSend = 'p1';
      tx.wouldReject = true;
    }
    throw new SmtpError(outcome.verdict.reply!);
  }
  tx.recipients.push(address.address);
  if (outcome.value.directSend && !tx.directSend) {
    tx.directSend = outcome.value.directSend;
    tx.wouldReject = outcome.value.wouldReject;
    tx.hits.push(...outcome.hits);
  }
}
