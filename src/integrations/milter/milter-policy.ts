// The milter's policy side (issue 15): the gateway's decisions, stage by stage, on what Postfix
// reports. MAIL and RCPT run the same pure decisions as the gateway (so a milter-only setup still
// refuses Direct Send); end of message reads the reassembled message with the gateway's canonical
// reader, runs the header-From decision and the end-of-DATA checks, and answers with header edits,
// a hold (quarantine) or a refusal. One trace record per transaction, marked `postfix-milter`.
import { randomUUID } from 'node:crypto';
import type { MessageFacts, SmtpReply, TraceRecord } from '../../domain/types.ts';
import { decideHeaderFrom, decideMailFrom, decideRecipient } from '../../policy/decide.ts';
import { combineCheckOutcomes } from '../../policy/end-of-data.ts';
import { malformedHeaderReply, replies } from '../../policy/replies.ts';
import type { EndOfDataResult, SessionState } from '../../smtp/context.ts';
import { canonicalMessage } from '../../smtp/header-section.ts';
import type { CanonicalMessage } from '../../smtp/header-section.ts';
import { stampHeaders } from '../../smtp/stamp-headers.ts';
import { buildTraceRecord, startTransaction } from '../../smtp/transaction-trace.ts';
import type { TransactionEnd } from '../../smtp/transaction-trace.ts';
import type { TraceWriteOptions } from '../../store/ports.ts';
import type { IntegrationContext } from '../integration-context.ts';
import { writeTrace } from '../integration-context.ts';
import { connectionFactsOf, knownName, sendAsFor } from '../postfix-facts.ts';
import type { PostfixClient } from '../postfix-facts.ts';
import type { ConnectInfo } from './codec.ts';
import { reassemble, stampEdits, unfoldedFromEdit, untrustedDeletions } from './message-edits.ts';
import { milterExternalTag } from './milter-tagging.ts';
import type { EomOutcome, MilterHandler, ReceivedHeader, StepOutcome } from './milter-session.ts';

const CONTINUE: StepOutcome = { kind: 'continue' };

/** `<a@b>` → `a@b`; ESMTP parameters after the address are separate strings and ignored. */
function envelopeAddress(args: string[]): string {
  const first = (args[0] ?? '').trim();
  return first.startsWith('<') && first.endsWith('>') ? first.slice(1, -1) : first;
}

/** Postfix writes an IPv6 client as `IPv6:2001:db8::1` in some places; the policy wants the address. */
function plainAddress(value: string): string {
  return value.replace(/^\[|\]$/g, '').replace(/^IPv6:/i, '');
}

export class MilterPolicy implements MilterHandler {
  readonly #ctx: IntegrationContext;
  #client: PostfixClient;
  #state: SessionState | null = null;

  constructor(ctx: IntegrationContext) {
    this.#ctx = ctx;
    this.#client = {
      sessionId: `postfix-${randomUUID()}`, remoteIp: 'unknown', remotePort: 0, helo: null, ptr: null,
      tlsVersion: null, tlsCipher: null, certSubject: null, certFingerprint: null, saslUser: null,
    };
  }

  connect(info: ConnectInfo, macros: ReadonlyMap<string, string>): StepOutcome {
    this.#client = {
      ...this.#client,
      remoteIp: plainAddress(macros.get('client_addr') ?? info.address) || 'unknown',
      remotePort: Number(macros.get('client_port') ?? info.port) || 0,
      ptr: knownName(macros.get('client_ptr') ?? info.hostname),
    };
    return CONTINUE;
  }

  helo(helo: string, macros: ReadonlyMap<string, string>): StepOutcome {
    this.#client = {
      ...this.#client, helo: helo || null,
      tlsVersion: macros.get('tls_version') || null, tlsCipher: macros.get('cipher') || null,
      certSubject: macros.get('cert_subject') || null,
    };
    return CONTINUE;
  }

  async mail(args: string[], macros: ReadonlyMap<string, string>): Promise<StepOutcome> {
    await this.#finishOpen();
    const mailFrom = envelopeAddress(args);
    this.#client = { ...this.#client, saslUser: macros.get('auth_authen') || null };
    const tx = startTransaction();
    tx.rawMailFrom = mailFrom || null;
    this.#state = { policy: this.#ctx.currentPolicy(), facts: connectionFactsOf(this.#client, []), tx };
    // With the policy service in this process, the sender is decided at the first RCPT: Postfix
    // consults the policy service (which learns the certificate fingerprint) before the milter's
    // RCPT step, but after its MAIL step.
    if (this.#ctx.certificates) return CONTINUE;
    return this.#decideSender(mailFrom);
  }

  /** Stage 3-4 on the facts known now; a refusal ends the transaction like the gateway's MAIL hook. */
  async #decideSender(mailFrom: string): Promise<StepOutcome> {
    const state = this.#state!;
    const tx = state.tx!;
    const fingerprint = this.#ctx.certificates?.lookup(this.#client.remoteIp, this.#client.remotePort, this.#ctx.now().getTime()) ?? null;
    this.#client = { ...this.#client, certFingerprint: fingerprint };
    const sendAs = await sendAsFor(this.#ctx.store, this.#client.saslUser, mailFrom);
    state.facts = connectionFactsOf(this.#client, sendAs.addresses);
    tx.hits.push(...sendAs.hits);
    const outcome = decideMailFrom(state.policy, state.facts, mailFrom, this.#ctx.now().getTime());
    if (!outcome.ok) {
      tx.hits.push(...outcome.verdict.hits);
      tx.lastReply = outcome.verdict.reply;
      tx.lastStage = 'mail';
      await this.#finish({ verdict: outcome.verdict.action });
      return { kind: 'refuse', reply: outcome.verdict.reply! };
    }
    tx.sender = outcome.value;
    tx.hits.push(...outcome.hits);
    return CONTINUE;
  }

  async rcpt(args: string[]): Promise<StepOutcome> {
    const tx = this.#state?.tx;
    if (!tx) return CONTINUE; // MAIL was refused: Postfix will not send RCPT for it
    if (!tx.sender) {
      const decided = await this.#decideSender(tx.rawMailFrom ?? '');
      if (decided.kind === 'refuse') return decided;
    }
    tx.lastStage = 'rcpt';
    const recipient = envelopeAddress(args);
    const outcome = decideRecipient(this.#state!.policy, tx.sender!, recipient);
    if (!outcome.ok) {
      if (outcome.verdict.hits.some((h) => h.rule === 'rejectDirectSend')) { tx.directSend = 'p1'; tx.wouldReject = true; }
      tx.lastReply = outcome.verdict.reply;
      tx.rejectedRecipients.push(recipient);
      tx.hits.push(...outcome.verdict.hits.map((h) => ({ ...h, detail: `${recipient}: ${h.detail}` })));
      return { kind: 'refuse', reply: outcome.verdict.reply! };
    }
    tx.recipients.push(recipient);
    if (outcome.value.directSend && !tx.directSend) {
      tx.directSend = outcome.value.directSend;
      tx.wouldReject = outcome.value.wouldReject;
      tx.hits.push(...outcome.hits);
    }
    return CONTINUE;
  }

  async endOfMessage(message: { headers: ReceivedHeader[]; body: Buffer[]; sizeBytes: number; leadingSpace: boolean }, macros: ReadonlyMap<string, string>): Promise<EomOutcome> {
    const state = this.#state;
    const tx = state?.tx;
    if (!state || !tx?.sender) return refuse(replies.internal);
    tx.lastStage = 'data';
    const queueId = macros.get('i') || null;
    try {
      const canonical = canonicalMessage(reassemble(message.headers, message.body, message.leadingSpace), this.#ctx.authservId);
      return await this.#decideMessage(state, canonical, message, queueId);
    } catch (err) {
      // SPEC §2.7: an unexpected failure is a 451, never a silent accept.
      this.#ctx.logger.error({ stage: 'milter', event: 'exception', sessionId: state.facts.sessionId, err }, 'milter end of message failed');
      tx.lastReply = replies.internal;
      await this.#finish({ verdict: 'tempfail' });
      return refuse(replies.internal);
    }
  }

  async #decideMessage(state: SessionState, canonical: CanonicalMessage, received: { headers: ReceivedHeader[]; sizeBytes: number; leadingSpace: boolean }, queueId: string | null): Promise<EomOutcome> {
    const tx = state.tx!;
    const sender = tx.sender!;
    if (!canonical.ok) return this.#refuse(malformedHeaderReply(canonical.problem), 'reject');
    const facts: MessageFacts = { ...canonical.facts, sizeBytes: received.sizeBytes };
    if (canonical.changes.length > 0) tx.hits.push({ rule: 'header.normalised', detail: canonical.changes.join(', ') });
    const headerFrom = decideHeaderFrom(state.policy, sender, state.facts, facts);
    if (!headerFrom.ok) {
      tx.hits.push(...headerFrom.verdict.hits);
      // Refused as Direct Send is still Direct Send: `mxward trace --direct-send` lists it.
      if (headerFrom.verdict.hits.some((h) => h.rule === 'rejectDirectSendHeaderFrom')) { tx.directSend = 'header-from'; tx.wouldReject = true; }
      return this.#refuse(headerFrom.verdict.reply!, 'reject', facts);
    }
    tx.hits.push(...headerFrom.hits);
    if (headerFrom.value.directSend && !tx.directSend) { tx.directSend = headerFrom.value.directSend; tx.wouldReject = headerFrom.value.wouldReject; }

    const results: EndOfDataResult[] = [];
    for (const check of this.#ctx.endOfDataChecks) {
      results.push(await check.run({
        policy: state.policy, facts: state.facts, sender, recipients: tx.recipients, message: facts,
        headerFields: canonical.fields, messagePath: '', messageBytes: canonical.bytes,
      }));
    }
    const combined = combineCheckOutcomes(results);
    tx.hits.push(...combined.hits);
    const auth = results.reduce<EndOfDataResult['auth']>((acc, r) => r.auth ?? acc, null);
    const authenticationResults = results.reduce<string | null>((acc, r) => r.authenticationResults ?? acc, null);
    const action = combined.verdict?.action ?? 'accept';
    if (action === 'reject' || action === 'tempfail') return this.#refuse(combined.verdict!.reply ?? replies.internal, action, facts, auth);

    // Issue 18: external mail tagged after the checks read the original, as at the gateway.
    const tag = await milterExternalTag({ policy: state.policy, sender, message: facts, auth, directSend: tx.directSend, wouldReject: tx.wouldReject }, canonical, received.headers, received.leadingSpace);
    tx.hits.push(...tag.hits);
    const stamped = stampHeaders({
      hostname: this.#ctx.hostname, queueId: queueId ?? 'unknown', facts: state.facts, recipients: tx.recipients,
      attribution: sender.attribution, connector: sender.connector, directSend: tx.directSend, wouldReject: tx.wouldReject,
      verdict: action, scl: combined.scl, authenticationResults, now: this.#ctx.now(),
    });
    const edits = [
      ...untrustedDeletions(received.headers, this.#ctx.authservId, received.leadingSpace),
      ...unfoldedFromEdit(received.headers, canonical.fields, received.leadingSpace),
      ...stampEdits(stamped + tag.header, received.leadingSpace),
      ...tag.edits,
    ];
    const quarantined = action === 'quarantine';
    tx.lastReply = { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${queueId ?? 'unknown'}` };
    // Postfix, not mxward, now holds the message: its answer need not wait for the record.
    void this.#finish({
      verdict: action, message: facts, auth, queueId: queueId ? `postfix:${queueId}` : null,
      quarantineId: quarantined && queueId ? `postfix-hold:${queueId}` : null, deliveryStatus: quarantined ? 'quarantined' : 'queued',
    }, { background: true });
    const reason = quarantined ? (combined.verdict!.hits.map((h) => h.detail).join('; ') || 'mxward quarantine verdict').slice(0, 200) : null;
    return { refuse: null, edits, quarantineReason: reason, body: tag.body };
  }

  async #refuse(reply: SmtpReply, verdict: 'reject' | 'tempfail', message?: MessageFacts, auth?: TraceRecord['auth']): Promise<EomOutcome> {
    this.#state!.tx!.lastReply = reply;
    await this.#finish({ verdict, message, auth: auth ?? null });
    return refuse(reply);
  }

  abort(): void {
    void this.#finishOpen();
  }

  close(): void {
    void this.#finishOpen();
  }

  /**
   * A transaction that ends without end of message is traced only when the milter itself refused
   * something in it; otherwise Postfix (or the policy service, which traces its own refusals)
   * ended it, and a second record would count the same attempt twice.
   */
  async #finishOpen(): Promise<void> {
    const tx = this.#state?.tx;
    if (!tx) return;
    if (!tx.lastReply) { this.#state!.tx = null; return; }
    await this.#finish({ verdict: tx.lastReply.code >= 500 ? 'reject' : 'tempfail' });
  }

  async #finish(end: TransactionEnd, options?: TraceWriteOptions): Promise<void> {
    const state = this.#state;
    if (!state?.tx) return;
    const record = buildTraceRecord(state, state.tx, end, this.#ctx.now());
    state.tx = null;
    await writeTrace(this.#ctx, record, 'postfix-milter', options);
  }
}

function refuse(reply: SmtpReply): EomOutcome {
  return { refuse: reply, edits: [], quarantineReason: null };
}
