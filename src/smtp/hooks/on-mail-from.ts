// Stage 4 (SPEC §2.4): a new transaction; attribution by AUTH or connector; 5.7.51 / 5.7.60 / 5.7.57.
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { decideMailFrom } from '../../policy/decide.ts';
import { replies } from '../../policy/replies.ts';
import { sessionState } from '../context.ts';
import type { GatewayContext } from '../context.ts';
import { abandonTransaction, finishTransaction, startTransaction } from '../transaction-trace.ts';
import { SmtpError } from './smtp-error.ts';

export async function onMailFrom(ctx: GatewayContext, address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
  const state = sessionState(session);
  // smtp-server has no RSET hook: a transaction still open here was reset or abandoned.
  if (state.tx) await abandonTransaction(ctx, state);
  // The facts object is replaced, not changed in place, and only when the HELO name changed.
  const helo = session.hostNameAppearsAs ?? state.facts.helo;
  if (helo !== state.facts.helo) state.facts = { ...state.facts, helo };
  const tx = startTransaction();
  state.tx = tx;
  tx.rawMailFrom = address.address || null;
  const admission = ctx.admission ? await ctx.admission() : undefined;
  if (admission && !admission.ok) {
    // Before any policy work: a full spool cannot take the message whatever the verdict.
    ctx.logger.warn({ stage: 'mail', event: 'back-pressure', reason: admission.reason }, 'spool full, refusing new mail');
    tx.lastReply = replies.storageFull;
    await finishTransaction(ctx, state, { verdict: 'tempfail' });
    throw new SmtpError(replies.storageFull);
  }
  const outcome = decideMailFrom(state.policy, state.facts, address.address ?? '', ctx.now().getTime());
  if (!outcome.ok) {
    tx.hits.push(...outcome.verdict.hits);
    tx.lastReply = outcome.verdict.reply;
    tx.lastStage = 'mail';
    await finishTransaction(ctx, state, { verdict: outcome.verdict.action });
    throw new SmtpError(outcome.verdict.reply!);
  }
  tx.sender = outcome.value;
  tx.hits.push(...outcome.hits);
}
