// External sender identification (issue 18): "add MailTips to all emails that come from outside
// of your company", the self-hosted counterpart of Exchange Online's Set-ExternalInOutlook. Pure:
// which tag a message gets, and the Subject field with the prefix. Anonymous mail is tagged;
// internal, on-premises and authenticated mail never is; partner mail only when opted in.
import type { Attribution, AuthResults, DirectSendKind, MessageFacts } from '../domain/types.ts';
import type { PolicyDocument } from '../config/policy-schema.ts';
import type { CompiledPolicy } from './compile.ts';
import type { SenderDecision } from './decide.ts';
import { domainPatternMatches } from './domains.ts';
import { isOwnDomain } from './own-domains.ts';

export type ExternalTagging = 'off' | 'header' | 'subject' | 'banner';

/** Which notice a banner carries: the ordinary one, or the stronger one for a claimed own domain. */
export type BannerKind = 'external' | 'impersonation';

export interface ExternalTagSettings {
  mode: ExternalTagging;
  prefix: string;
  /** Tag mail attributed to a partner connector too (never an onPremises or "internal" one). */
  partners: boolean;
  /** `example.com` / `*.example.com`: a From domain here that passed compauth is not tagged. */
  exemptSenderDomains: readonly string[];
  /** Above this size the body is not rewritten; the header tag is the fallback. */
  bannerMaxBytes: number;
}

export function externalTagSettings(doc: Partial<PolicyDocument>): ExternalTagSettings {
  return {
    mode: doc.externalTagging ?? 'off',
    prefix: doc.externalTagPrefix ?? '[EXTERNAL]',
    partners: doc.externalTagPartners ?? false,
    exemptSenderDomains: doc.externalTagExemptSenderDomains ?? [],
    bannerMaxBytes: doc.externalTagBannerMaxBytes ?? DEFAULT_BANNER_MAX_BYTES,
  };
}

export const DEFAULT_BANNER_MAX_BYTES = 10 * 1024 * 1024;

export interface ExternalTagFacts {
  attribution: Attribution;
  /** The matched connector has treatMessagesAsInternal: its mail counts as our own. */
  connectorInternal: boolean;
  /** The author's (RFC 5322.From) domain, null when there is no single author. */
  authorDomain: string | null;
  /** compauth passed for that author: only then may an exemption by domain apply. */
  authorAuthenticated: boolean;
  /** Direct Send in report mode whose From is one of our domains: the stronger banner. */
  claimsOwnDomain: boolean;
}

/** What the end of DATA knows about a transaction, as decideExternalTag needs it. */
export function externalTagFacts(policy: CompiledPolicy, sender: SenderDecision, message: MessageFacts, auth: AuthResults | null, directSend: DirectSendKind | null, wouldReject: boolean): ExternalTagFacts {
  const connector = sender.connector ? policy.document.connectors.find((c) => c.name === sender.connector) : undefined;
  const authorDomain = message.author.kind === 'single' ? message.author.domain : null;
  return {
    attribution: sender.attribution,
    connectorInternal: connector?.treatMessagesAsInternal ?? false,
    authorDomain,
    // compauth is judged on the From domain (SPEC §4), so a pass authenticates exactly that author.
    authorAuthenticated: auth?.compauth.result === 'pass',
    claimsOwnDomain: sender.attribution === 'anonymous' && directSend !== null && wouldReject && isOwnDomain(policy, authorDomain),
  };
}

export interface ExternalTagPlan {
  /** Stamp X-Mxward-External (every mode: mail rules and clients can key on it). */
  header: true;
  /** The Subject prefix to add, in subject mode. */
  subjectPrefix: string | null;
  /** The body notice to add, in banner mode. */
  banner: BannerKind | null;
  bannerMaxBytes: number;
  /** Why the tag applies despite something that looked like an exemption, for the trace. */
  notes: string[];
}

/** Not tagged: `reason` is traced when it is worth reading (an exemption), null otherwise. */
export type ExternalTagDecision = { tag: true; plan: ExternalTagPlan } | { tag: false; reason: string | null };

/**
 * Who is tagged. Internal mail (SMTP AUTH, onPremises connectors, connectors treated as internal)
 * never is; partner mail only when the administrator opted in. An exemption by sender domain needs
 * the domain to have authenticated (compauth pass): a bare From header is free to write, and an
 * exemption anyone can claim would switch the warning off for the mail that most needs it.
 */
export function decideExternalTag(settings: ExternalTagSettings, facts: ExternalTagFacts): ExternalTagDecision {
  if (settings.mode === 'off' || facts.attribution === 'internal' || facts.connectorInternal) return { tag: false, reason: null };
  if (facts.attribution === 'partner' && !settings.partners) return { tag: false, reason: null };
  const notes: string[] = [];
  const exemptBy = facts.authorDomain ? settings.exemptSenderDomains.find((p) => domainPatternMatches(p, facts.authorDomain!)) : undefined;
  if (exemptBy !== undefined) {
    if (facts.authorAuthenticated && !facts.claimsOwnDomain) {
      return { tag: false, reason: `From domain ${facts.authorDomain} is exempt (${exemptBy}) and passed compauth` };
    }
    notes.push(`From domain ${facts.authorDomain} matches exemption ${exemptBy} but did not authenticate (compauth), so it is tagged`);
  }
  return {
    tag: true,
    plan: {
      header: true,
      subjectPrefix: settings.mode === 'subject' ? settings.prefix : null,
      banner: settings.mode === 'banner' ? (facts.claimsOwnDomain ? 'impersonation' : 'external') : null,
      bannerMaxBytes: settings.bannerMaxBytes,
      notes,
    },
  };
}

/** The X-Mxward-External field mxward stamps (inbound copies are stripped with every X-Mxward-*). */
export const EXTERNAL_HEADER = 'X-Mxward-External: yes\r\n';

/**
 * The Subject field (raw, as canonicalised: `Subject:value\r\n`, maybe folded) with the prefix
 * after the colon and its whitespace; null when the prefix is already in it anywhere (a reply
 * "Re: [EXTERNAL] …" keeps one tag, never two). Case-insensitive, over the unfolded value.
 */
export function prefixSubjectField(raw: string, prefix: string): string | null {
  const colon = raw.indexOf(':');
  if (colon < 0) return null;
  const value = raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '');
  // Mail clients encode a whole non-ASCII Subject (`=?utf-8?Q?RE:_[EXTERNAL]_Gr=C3=BC=C3=9Fe?=`):
  // the prefix is looked for in the decoded text too.
  if (value.toLowerCase().includes(prefix.toLowerCase()) || decodeEncodedWords(value).toLowerCase().includes(prefix.toLowerCase())) return null;
  const lead = /^[ \t]*/.exec(raw.slice(colon + 1))![0];
  const rest = raw.slice(colon + 1 + lead.length);
  // An empty Subject becomes just the prefix; otherwise one space separates it from the text
  // (RFC 2047 §5: an encoded-word must be separated from adjacent text by white space).
  const body = rest === '\r\n' ? '\r\n' : ` ${rest}`;
  return `${raw.slice(0, colon + 1)} ${prefix}${body}`;
}

/**
 * The header section with the one Subject field prefixed, or null when nothing changes (already
 * tagged). Without a Subject field one is added at the end, so every external message shows it.
 */
export function tagHeaderSection(fields: ReadonlyArray<{ name: string; raw: string }>, prefix: string): string | null {
  const index = fields.findIndex((f) => f.name === 'subject');
  if (index < 0) return `${fields.map((f) => f.raw).join('')}Subject: ${prefix}\r\n`;
  const tagged = prefixSubjectField(fields[index].raw, prefix);
  if (tagged === null) return null;
  return fields.map((f, i) => (i === index ? tagged : f.raw)).join('');
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * RFC 2047 encoded-words decoded for comparison only (the field itself is never re-encoded), the
 * white space between adjacent encoded-words dropped (§6.2). An unknown charset or a broken word
 * stays as written.
 */
export function decodeEncodedWords(value: string): string {
  return value.replace(/(\?=)[ \t]+(?==\?)/g, '$1').replace(ENCODED_WORD, (word, charset: string, encoding: string, text: string) => {
    try {
      const bytes = encoding.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      return new TextDecoder(charset.replace(/\*.*$/, '')).decode(bytes);
    } catch {
      return word;
    }
  });
}
