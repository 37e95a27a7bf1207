// Applies the external tag (policy/external-tag.ts) to an accepted message at the end of DATA,
// after every check has read the original bytes (issue 18): DKIM was verified on what the sender
// signed. Either change goes into a new spool file. A banner is spliced into the body by
// banner-rewrite.ts; for a Subject prefix the held copy of a small message is sliced and a larger
// one streamed from the first file, so memory stays within the spool writer's buffer whatever the
// message size.
import { createReadStream } from 'node:fs';
import type { AuthResults, DirectSendKind, MessageFacts, RuleHit } from '../domain/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { SenderDecision } from '../policy/decide.ts';
import { decideExternalTag, EXTERNAL_HEADER, externalTagFacts, externalTagSettings, tagHeaderSection } from '../policy/external-tag.ts';
import type { BannerKind, ExternalTagPlan } from '../policy/external-tag.ts';
import type { Spool, SpoolWriter } from '../spool/spool.ts';
import { addBannerToSpooled } from './banner-rewrite.ts';
import type { HeaderField } from './header-section.ts';

/** The transaction as the end of DATA knows it once the message was accepted. */
export interface ExternalTagInput {
  policy: CompiledPolicy;
  sender: SenderDecision;
  message: MessageFacts;
  auth: AuthResults | null;
  directSend: DirectSendKind | null;
  wouldReject: boolean;
  fields: readonly HeaderField[];
}

export interface ExternalTagResult {
  /** The writer to commit: a new one when the Subject was rewritten. */
  writer: SpoolWriter;
  /** Prepended at delivery with mxward's other fields. */
  header: string;
  hits: RuleHit[];
}

/** The decision for one message, with the words its trace hits start with (shared with the milter). */
export type ExternalTagStep = { tag: false; hits: RuleHit[] } | { tag: true; plan: ExternalTagPlan; who: string; notes: RuleHit[] };

export function planExternalTagFor(input: Omit<ExternalTagInput, 'fields'>): ExternalTagStep {
  const facts = externalTagFacts(input.policy, input.sender, input.message, input.auth, input.directSend, input.wouldReject);
  const decision = decideExternalTag(externalTagSettings(input.policy.document), facts);
  if (!decision.tag) return { tag: false, hits: decision.reason ? [tagHit(`not tagged: ${decision.reason}`)] : [] };
  const who = `${input.sender.attribution} mail`;
  return { tag: true, plan: decision.plan, who: decision.plan.banner ? `${who}${afterAuth(input.auth)}` : who, notes: decision.plan.notes.map(tagHit) };
}

export async function applyExternalTag(spool: Spool, writer: SpoolWriter, input: ExternalTagInput): Promise<ExternalTagResult> {
  const step = planExternalTagFor(input);
  if (!step.tag) return { writer, header: '', hits: step.hits };
  const { plan, who, notes } = step;
  if (plan.banner) {
    const outcome = await addBannerToSpooled(spool, writer, plan.banner, plan.bannerMaxBytes);
    return { writer: outcome.kind === 'rewritten' ? outcome.writer : writer, header: EXTERNAL_HEADER, hits: [...notes, bannerHit(who, plan.banner, outcome)] };
  }
  if (!plan.subjectPrefix) return { writer, header: EXTERNAL_HEADER, hits: [...notes, tagHit(`${who}: X-Mxward-External stamped`)] };
  const tagged = tagHeaderSection(input.fields, plan.subjectPrefix);
  if (tagged === null) return { writer, header: EXTERNAL_HEADER, hits: [...notes, subjectHit(who, null)] };
  const next = await rewriteHeaderSection(spool, writer, input.fields, tagged);
  return { writer: next, header: EXTERNAL_HEADER, hits: [...notes, subjectHit(who, plan.subjectPrefix)] };
}

export function subjectHit(who: string, prefix: string | null): RuleHit {
  return tagHit(prefix ? `${who}: Subject prefixed with ${prefix}` : `${who}: Subject already carries the prefix, not added twice`);
}

/**
 * Banner mode's trace hit: where the notice went, or why the body was left alone (signed,
 * encrypted, too large, no readable part) and the header tag is all there is.
 */
export function bannerHit(who: string, kind: BannerKind, outcome: { kind: 'rewritten'; parts: string[]; skipped: string[] } | { kind: 'unchanged'; reason: string }): RuleHit {
  if (outcome.kind === 'unchanged') return tagHit(`${who}: no banner, X-Mxward-External only: ${outcome.reason}`);
  const skipped = outcome.skipped.length ? ` (${outcome.skipped.join('; ')})` : '';
  const wording = kind === 'impersonation' ? 'own-domain impersonation banner' : 'external banner';
  return tagHit(`${who}: ${wording} added to ${outcome.parts.join(' and ')}${skipped}`);
}

/** The DKIM results the banner came after: the trace shows the signatures were checked first. */
function afterAuth(auth: AuthResults | null): string {
  if (!auth) return ' (authentication off)';
  const dkim = auth.dkim.length ? auth.dkim.map((d) => `dkim=${d.result} header.d=${d.domain}`).join(', ') : 'dkim=none';
  return ` (after authentication of the original: ${dkim})`;
}

function tagHit(detail: string): RuleHit {
  return { rule: 'externalTag', detail };
}

/** A new spool file: the new header section, then the body copied from the first file. */
async function rewriteHeaderSection(spool: Spool, writer: SpoolWriter, fields: readonly HeaderField[], header: string): Promise<SpoolWriter> {
  const headerBytes = fields.reduce((n, f) => n + Buffer.byteLength(f.raw, 'latin1'), 0);
  const whole = writer.peekWhole();
  const next = await spool.createWriter();
  try {
    await next.write(Buffer.from(header, 'latin1'));
    if (whole) await next.write(whole.subarray(headerBytes));
    else {
      await writer.flush();
      for await (const chunk of createReadStream(writer.path, { start: headerBytes })) await next.write(chunk as Buffer);
    }
  } catch (err) {
    await next.discard();
    throw err;
  }
  await writer.discard();
  return next;
}
