// The decision per SMTP stage (SPEC §2). Pure: facts in, a Verdict out. Each function only reads
// facts known at its stage, so a rule can never depend on something the client has not sent yet.
import type { Attribution, ConnectionFacts, DirectSendKind, MessageFacts, RuleHit, SmtpReply, Stage, Verdict } from '../domain/types.ts';
import type { CompiledPolicy } from './compile.ts';
import { findAcceptedDomain } from './compile.ts';
import { connectorQueryFor, matchConnector } from './connectors.ts';
import { normalizeAddress, parseAddress } from './domains.ts';
import { replies } from './replies.ts';

/** What MAIL FROM established, carried to RCPT and DATA. */
export interface SenderDecision {
  attribution: Attribution;
  connector: string | null;
  /** Null for the null sender `<>`. */
  mailFrom: string | null;
  p1Domain: string | null;
  /** Anonymous and P1 in an accepted domain (SPEC §1 "Direct Send"). */
  p1DirectSend: boolean;
  hits: RuleHit[];
}

export type StageOutcome<T> = { ok: true; value: T; hits: RuleHit[] } | { ok: false; verdict: Verdict };

function reject(stage: Stage, reply: SmtpReply, hits: RuleHit[]): { ok: false; verdict: Verdict } {
  return { ok: false, verdict: { action: reply.code >= 500 ? 'reject' : 'tempfail', reply, stage, hits } };
}

/** Stage 3-4: attribution from AUTH or a connector, send-as for authenticated users. */
export function decideMailFrom(policy: CompiledPolicy, facts: ConnectionFacts, rawMailFrom: string, nowMs: number): StageOutcome<SenderDecision> {
  const mailFrom = rawMailFrom.trim() === '' ? null : rawMailFrom.trim();
  const parsed = mailFrom ? parseAddress(mailFrom) : null;
  const p1Domain = parsed?.domain ?? null;
  const hits: RuleHit[] = [];

  if (facts.listener === 'submission' && !facts.authUser) {
    return reject('mail', replies.authRequired, [{ rule: 'submission.auth', detail: 'submission listener requires SMTP AUTH' }]);
  }
  if (facts.authUser) {
    const allowed = new Set(facts.authSendAs.map((a) => normalizeAddress(a).toLowerCase()));
    if (!mailFrom || !allowed.has(normalizeAddress(mailFrom).toLowerCase())) {
      return reject('mail', replies.sendAsDenied, [{ rule: 'auth.sendAs', detail: `user ${facts.authUser} may not send as ${mailFrom ?? '<>'}` }]);
    }
    hits.push({ rule: 'attribution', detail: `authenticated as ${facts.authUser}` });
    return { ok: true, value: { attribution: 'internal', connector: null, mailFrom, p1Domain, p1DirectSend: false, hits }, hits };
  }

  const match = matchConnector(policy, connectorQueryFor(facts, p1Domain, nowMs));
  const reasonHits = match.reasons.map((detail) => ({ rule: 'connector', detail }));
  if (match.kind === 'restricted' || match.kind === 'requireTls') {
    return reject('mail', replies.connectorRestriction, reasonHits);
  }
  hits.push(...reasonHits);
  let attribution: Attribution = 'anonymous';
  let connector: string | null = null;
  if (match.kind === 'matched') {
    connector = match.connector.settings.name;
    attribution = match.connector.settings.type === 'onPremises' ? 'internal' : 'partner';
  }
  const p1DirectSend = attribution === 'anonymous' && findAcceptedDomain(policy, p1Domain) !== null;
  if (p1DirectSend) hits.push({ rule: 'directSend.p1', detail: `anonymous sender uses accepted domain ${p1Domain}` });
  return { ok: true, value: { attribution, connector, mailFrom, p1Domain, p1DirectSend, hits }, hits };
}

export interface RecipientDecision {
  recipient: string;
  /** Set when Direct Send was seen and let through (report or off mode). */
  directSend: DirectSendKind | null;
  wouldReject: boolean;
}

/** Stage 5: relay protection, recipient directory, then Reject Direct Send. */
export function decideRecipient(policy: CompiledPolicy, sender: SenderDecision, rawRecipient: string): StageOutcome<RecipientDecision> {
  const parsed = parseAddress(rawRecipient);
  const accepted = findAcceptedDomain(policy, parsed.domain);
  const internal = sender.attribution === 'internal';
  if (!internal && (!accepted || parsed.relayHack)) {
    const detail = parsed.relayHack ? `${parsed.relayHack} in ${rawRecipient}` : `${parsed.domain ?? rawRecipient} is not an accepted domain`;
    return reject('rcpt', replies.relayDenied, [{ rule: 'relay', detail }]);
  }
  // The directory applies to every session (SPEC §2.5): an internal sender to a mailbox that does
  // not exist gets the refusal now, not a bounce later.
  if (accepted && accepted.recipients.size > 0) {
    const key = normalizeAddress(rawRecipient).toLowerCase();
    if (!accepted.recipients.has(key)) {
      return reject('rcpt', replies.recipientNotFound, [{ rule: 'recipients', detail: `${rawRecipient} is not in the directory of ${accepted.domain}` }]);
    }
  }
  const hits: RuleHit[] = [];
  let directSend: DirectSendKind | null = null;
  let wouldReject = false;
  if (sender.p1DirectSend) {
    if (policy.rejectDirectSend === 'enforce') {
      return reject('rcpt', replies.directSend, [{ rule: 'rejectDirectSend', detail: `anonymous MAIL FROM ${sender.mailFrom} in accepted domain ${sender.p1Domain}` }]);
    }
    directSend = 'p1';
    wouldReject = policy.rejectDirectSend === 'report';
    hits.push({ rule: 'rejectDirectSend', detail: `Direct Send accepted (mode ${policy.rejectDirectSend})` });
  }
  return { ok: true, value: { recipient: rawRecipient, directSend, wouldReject }, hits };
}

export interface HeaderFromDecision {
  directSend: DirectSendKind | null;
  wouldReject: boolean;
}

/**
 * Stage 6 (first checks, SPEC §2.6 and §10): the header section must be readable one way, the
 * author must be one address, an authenticated user must be allowed to send as it, and then the
 * header-From variant of Direct Send (mxward).
 */
export function decideHeaderFrom(policy: CompiledPolicy, sender: SenderDecision, facts: ConnectionFacts, message: MessageFacts): StageOutcome<HeaderFromDecision> {
  const author = message.author;
  if (author.kind !== 'single') {
    const detail = author.kind === 'none' ? 'no From field' : `From is ambiguous (${author.reason}${author.domains.length ? `: ${author.domains.join(', ')}` : ''})`;
    return reject('data', replies.unclearAuthor, [{ rule: 'headerFrom.author', detail }]);
  }
  if (facts.authUser) {
    // SPEC §10: send-as covers the author, not only MAIL FROM; else any user could sign as the CEO.
    const allowed = new Set(facts.authSendAs.map((a) => normalizeAddress(a).toLowerCase()));
    if (!allowed.has(normalizeAddress(author.address).toLowerCase())) {
      return reject('data', replies.sendAsDenied, [{ rule: 'auth.sendAs', detail: `user ${facts.authUser} may not send as From: ${author.address}` }]);
    }
  }
  if (sender.attribution !== 'anonymous' || sender.p1DirectSend || findAcceptedDomain(policy, author.domain) === null) {
    return { ok: true, value: { directSend: null, wouldReject: false }, hits: [] };
  }
  const hit = { rule: 'rejectDirectSendHeaderFrom', detail: `anonymous sender with From: ${author.address} in an accepted domain (mode ${policy.rejectDirectSendHeaderFrom})` };
  if (policy.rejectDirectSendHeaderFrom === 'enforce') return reject('data', replies.directSend, [hit]);
  return {
    ok: true,
    value: { directSend: 'header-from', wouldReject: policy.rejectDirectSendHeaderFrom === 'report' },
    hits: [hit],
  };
}
