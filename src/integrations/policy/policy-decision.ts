// One policy request to one answer (issue 15): the request's attributes become ConnectionFacts,
// the gateway's own decisions run on them (policy/decide.ts), and the outcome becomes a Postfix
// access action: DUNNO (let Postfix's remaining restrictions decide; never OK, which would skip
// them), the catalogue reply for a refusal, or PREPEND of the report-mode stamp.
import { randomUUID } from 'node:crypto';
import type { ConnectionFacts, DirectSendKind, RuleHit, SmtpReply, TraceRecord, VerdictAction } from '../../domain/types.ts';
import { decideMailFrom, decideRecipient } from '../../policy/decide.ts';
import { renderReply, replies } from '../../policy/replies.ts';
import type { IntegrationContext } from '../integration-context.ts';
import { connectionFactsOf, knownName, sendAsFor } from '../postfix-facts.ts';
import type { PostfixClient } from '../postfix-facts.ts';

export interface PolicyAnswer {
  action: string;
  /** Written for refusals and for Direct Send let through (report/off); plain accepts are not. */
  trace: TraceRecord | null;
}

export const DUNNO = 'DUNNO';

/** Remembers which transactions (Postfix's `instance`) already got the report stamp. */
export class StampedInstances {
  readonly #seen = new Set<string>();
  readonly #max: number;
  constructor(max = 10_000) { this.#max = max; }
  /** True the first time an instance is seen. */
  first(instance: string): boolean {
    if (this.#seen.has(instance)) return false;
    this.#seen.add(instance);
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.values().next().value!);
    return true;
  }
}

function clientOf(a: Map<string, string>): PostfixClient {
  return {
    sessionId: `postfix-${a.get('instance') || randomUUID()}`,
    remoteIp: a.get('client_address') || 'unknown',
    remotePort: Number(a.get('client_port')) || 0,
    helo: a.get('helo_name') || null,
    ptr: knownName(a.get('reverse_client_name') ?? a.get('client_name')),
    tlsVersion: a.get('encryption_protocol') || null,
    tlsCipher: a.get('encryption_cipher') || null,
    certSubject: a.get('ccert_subject') || null,
    certFingerprint: a.get('ccert_fingerprint') || null,
    saslUser: a.get('sasl_username') || null,
  };
}

export function actionFor(reply: SmtpReply): string {
  return renderReply(reply);
}

interface RecordInput {
  facts: ConnectionFacts;
  sender: string;
  recipient: string | null;
  refused: boolean;
  verdict: VerdictAction;
  reply: SmtpReply | null;
  stage: 'mail' | 'rcpt';
  hits: RuleHit[];
  connector: string | null;
  attribution: TraceRecord['attribution'];
  directSend: DirectSendKind | null;
  wouldReject: boolean;
}

function record(ctx: IntegrationContext, r: RecordInput): TraceRecord {
  const f = r.facts;
  const cert = f.tls?.clientCertificate ?? null;
  return {
    time: ctx.now().toISOString(), sessionId: f.sessionId, transactionId: randomUUID(), remoteIp: f.remoteIp,
    helo: f.helo, ptr: f.ptr, tlsVersion: f.tls?.version ?? null, tlsCipher: f.tls?.cipher ?? null,
    tlsClientCertificate: cert ? `${cert.subjectCN ?? cert.fingerprint256}${cert.verified ? '' : ' (unverified)'}` : null,
    authUser: f.authUser, connector: r.connector, attribution: r.attribution, mailFrom: r.sender || null,
    recipients: r.recipient && !r.refused ? [r.recipient] : [], rejectedRecipients: r.recipient && r.refused ? [r.recipient] : [],
    headerFrom: [], messageId: null, subject: null, sizeBytes: null,
    directSend: r.directSend, directSendWouldReject: r.wouldReject, auth: null, verdict: r.verdict,
    reply: r.reply ? renderReply(r.reply) : '', stage: r.stage, hits: r.hits, queueId: null, quarantineId: null,
    deliveryStatus: 'not-queued', durationMs: 0,
  };
}

/** Decides one well-formed request. `stamped` keeps one report stamp per transaction. */
export async function decidePolicyRequest(ctx: IntegrationContext, a: Map<string, string>, stamped: StampedInstances): Promise<PolicyAnswer> {
  if (a.get('request') !== 'smtpd_access_policy') {
    return { action: actionFor(replies.internal), trace: null };
  }
  const state = (a.get('protocol_state') ?? '').toUpperCase();
  // Only MAIL and RCPT carry what the decisions need; at DATA and later the milter decides.
  if (state !== 'RCPT' && state !== 'MAIL') return { action: DUNNO, trace: null };
  const client = clientOf(a);
  if (client.certFingerprint) ctx.certificates?.note(client.remoteIp, client.remotePort, client.certFingerprint, ctx.now().getTime());
  const sender = a.get('sender') ?? '';
  const sendAs = await sendAsFor(ctx.store, client.saslUser, sender);
  const facts = connectionFactsOf(client, sendAs.addresses);
  const policy = ctx.currentPolicy();
  const base = { facts, sender, hits: [...sendAs.hits], connector: null, attribution: (client.saslUser ? 'internal' : 'anonymous') as TraceRecord['attribution'], directSend: null, wouldReject: false };
  const mail = decideMailFrom(policy, facts, sender, ctx.now().getTime());
  if (!mail.ok) {
    const reply = mail.verdict.reply!;
    const trace = record(ctx, { ...base, recipient: a.get('recipient') || null, refused: true, verdict: mail.verdict.action, reply, stage: 'mail', hits: [...base.hits, ...mail.verdict.hits] });
    return { action: actionFor(reply), trace };
  }
  const who = { connector: mail.value.connector, attribution: mail.value.attribution };
  if (state === 'MAIL') return { action: DUNNO, trace: null };
  const recipient = a.get('recipient') ?? '';
  const rcpt = decideRecipient(policy, mail.value, recipient);
  if (!rcpt.ok) {
    const reply = rcpt.verdict.reply!;
    const isDirectSend = rcpt.verdict.hits.some((h) => h.rule === 'rejectDirectSend');
    const trace = record(ctx, {
      ...base, ...who, recipient, refused: true, verdict: rcpt.verdict.action, reply, stage: 'rcpt',
      hits: [...base.hits, ...mail.hits, ...rcpt.verdict.hits], directSend: isDirectSend ? 'p1' : null, wouldReject: isDirectSend,
    });
    return { action: actionFor(reply), trace };
  }
  if (!rcpt.value.directSend) return { action: DUNNO, trace: null };
  const trace = record(ctx, {
    ...base, ...who, recipient, refused: false, verdict: 'accept', reply: null, stage: 'rcpt',
    hits: [...base.hits, ...mail.hits, ...rcpt.hits], directSend: rcpt.value.directSend, wouldReject: rcpt.value.wouldReject,
  });
  // SPEC §5: the report-mode stamp, once per transaction (Postfix sends one request per RCPT).
  const instance = a.get('instance') || facts.sessionId;
  const stamp = `X-Mxward-DirectSend: ${rcpt.value.directSend}${rcpt.value.wouldReject ? ';would-reject' : ''}`;
  return { action: stamped.first(instance) ? `PREPEND ${stamp}` : DUNNO, trace };
}
