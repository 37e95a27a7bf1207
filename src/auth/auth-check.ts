// The end-of-DATA email-authentication check (SPEC §2.6): authenticate the message against the
// real source, compose compauth (§4), stamp Authentication-Results (RFC 8601) and hand the
// results to the pure verdict in policy/auth-verdict.ts.
import type { AuthSettings } from '../config/auth-schema.ts';
import type { AuthorFacts, AuthResults, Verdict } from '../domain/types.ts';
import { isOwnDomain } from '../policy/own-domains.ts';
import { decideAuthVerdict } from '../policy/auth-verdict.ts';
import type { EndOfDataCheck, EndOfDataInput, EndOfDataResult } from '../smtp/context.ts';
import { runMailauth } from './authenticate.ts';
import type { MailauthFacts } from './authenticate.ts';
import { authservIdValue, comment, resinfo } from './auth-results-syntax.ts';
import { composeAuth } from './compauth.ts';
import type { Compauth, CompauthInput } from './compauth.ts';
import { relaxedAligned } from './org-domain.ts';
import { SharedKeyCache } from './key-cache.ts';
import { compileHops, findMessageSource } from './received-chain.ts';
import type { MessageSource, TrustedHop } from './received-chain.ts';
import type { DnsResolver } from './resolver.ts';

export interface AuthCheckOptions {
  settings: AuthSettings;
  resolver: DnsResolver;
  authservId: string;
  sample?: () => number;
}

function dkimLines(facts: MailauthFacts): string[] {
  const lines = facts.dkim.map((d) => resinfo('dkim', d.result, d.comment, [['header.d', d.domain], ['header.s', d.selector]]));
  if (facts.dkim.length === 0 && facts.dkimNotEvaluated === 0) lines.push('dkim=none (message not signed)');
  if (facts.dkimNotEvaluated > 0) lines.push(`dkim=neutral${comment(`${facts.dkimNotEvaluated} further signature(s) not evaluated: per-message limit`)}`);
  return lines;
}

/**
 * RFC 8601 §2.2 value: authserv-id, then one resinfo per method, compauth last (SPEC §4). Built
 * from the facts, never from text a client chose: every copied value is a pvalue or a comment.
 */
export function formatAuthenticationResults(authservId: string, facts: MailauthFacts | null, compauth: Compauth, source: { ip: string | null; helo: string | null }): string {
  const parts: string[] = [];
  if (facts) {
    parts.push(resinfo('spf', facts.spf.result, facts.spf.comment, [['smtp.mailfrom', facts.spf.mailFrom], ['smtp.helo', facts.spf.mailFrom ? null : source.helo]]));
    if (facts.spfHelo) parts.push(resinfo('spf', facts.spfHelo.result, null, [['smtp.helo', facts.spfHelo.domain]]));
    parts.push(...dkimLines(facts));
    const sampled = facts.dmarc.sampledOut ? `pct=${facts.dmarc.pct} sampled out` : null;
    const noAuthor = facts.dmarc.domain ? null : facts.authorProblem === 'multiple-domains' ? 'several author domains' : 'no author domain';
    parts.push(resinfo('dmarc', facts.dmarc.result, [facts.dmarc.comment, sampled, noAuthor].filter(Boolean).join('; '), [['header.from', facts.dmarc.domain]]));
    if (facts.arc.result !== 'none' || facts.arc.sealer) parts.push(resinfo('arc', facts.arc.result, [facts.arc.comment, facts.arc.sealer ? `sealer ${facts.arc.sealer}` : null].filter(Boolean).join(' '), []));
  } else {
    parts.push('spf=none', 'dkim=none', 'dmarc=none');
  }
  parts.push(`compauth=${compauth.result} reason=${compauth.reason}`);
  // The client judged, as an RFC 8601 comment: it differs from the connecting one behind trusted hops.
  return `${authservIdValue(authservId)};\r\n\t${parts.join(';\r\n\t')}${comment(`source ${source.ip ?? 'unknown'}`)}`;
}

function sealerTrusted(sealer: string | null, trusted: readonly string[]): boolean {
  if (!sealer) return false;
  return trusted.some((t) => { const d = t.toLowerCase().replace(/\.$/, ''); return sealer === d || sealer.endsWith(`.${d}`); });
}

function authorOf(author: AuthorFacts | undefined, headerFrom: string[]): { domain: string | null; named: string[]; problem: 'no-from' | 'ambiguous' | null } {
  if (author?.kind === 'single') return { domain: author.domain.toLowerCase(), named: [author.domain.toLowerCase()], problem: null };
  if (author?.kind === 'ambiguous') return { domain: null, named: author.domains.map((d) => d.toLowerCase()), problem: 'ambiguous' };
  if (author?.kind === 'none' || headerFrom.length === 0) return { domain: null, named: [], problem: 'no-from' };
  return { domain: null, named: [], problem: 'ambiguous' };
}

/**
 * Adds what the trace must show even on an accept: which client was authenticated behind trusted
 * hops (or why none could be), and how many DKIM signatures were left unevaluated.
 */
function withTraceHits(decided: Verdict | null, source: MessageSource, notEvaluated: number, limit: number): Verdict | null {
  if (!decided && source.skipped.length === 0 && notEvaluated === 0) return null;
  const verdict: Verdict = decided ?? { action: 'accept', reply: null, stage: 'data', hits: [] };
  if (notEvaluated > 0) verdict.hits.push({ rule: 'auth.dkimLimit', detail: `${notEvaluated} DKIM signature(s) not evaluated (limit ${limit} per message)` });
  if (source.skipped.length > 0) {
    const detail = source.ip
      ? `authenticated source ${source.ip} behind trusted hop(s) ${source.skipped.join(', ')}`
      : `source behind trusted hop(s) ${source.skipped.join(', ')} not determined (${source.problem}): SPF not evaluated`;
    verdict.hits.push({ rule: 'enhancedFiltering', detail });
  }
  return verdict;
}

export class AuthCheck implements EndOfDataCheck {
  readonly name = 'email-authentication';
  readonly #options: AuthCheckOptions;
  readonly #hops: TrustedHop[];
  /** Parsed DKIM keys, shared by every message this check sees (bounded; keyed by the DNS answer). */
  readonly #keys = new SharedKeyCache();

  constructor(options: AuthCheckOptions) {
    this.#options = options;
    this.#hops = compileHops(options.settings.trustedHops);
  }

  async run(input: EndOfDataInput): Promise<EndOfDataResult> {
    const { settings, resolver, authservId } = this.#options;
    const { sender, facts, policy } = input;
    const source = findMessageSource(facts.remoteIp, facts.helo, input.headerFields, this.#hops);
    const author = authorOf(input.message.author, input.message.headerFrom);
    const authorIsOurs = author.named.some((d) => isOwnDomain(policy, d));
    const bypass: CompauthInput['bypass'] = sender.attribution !== 'internal' ? null : facts.authUser ? 'smtp-auth' : 'on-premises';

    let mailauth: MailauthFacts | null = null;
    if (!bypass) {
      const lookup = resolver.forMessage(settings.messageBudgetMs, settings.maxQueriesPerMessage);
      mailauth = await runMailauth({
        messagePath: input.messagePath, messageBytes: input.messageBytes, headerFields: input.headerFields, ip: source.ip, helo: source.helo, mailFrom: sender.mailFrom,
        authservId, lookup, minKeyBits: settings.minKeyBits, maxKeyBits: settings.maxKeyBits, maxDkimSignatures: settings.maxDkimSignatures,
        authorDomain: author.domain, namedDomains: author.problem === 'ambiguous' ? author.named : [], sample: this.#options.sample,
        keyCache: this.#keys,
      });
    }

    const authorDomain = author.domain ?? mailauth?.dmarc.domain ?? null;
    const compauthAuthor: CompauthInput['author'] = author.domain ? { domain: author.domain }
      : author.problem === 'no-from' ? { problem: 'no-from' } : { problem: 'ambiguous', domains: author.named };
    const arcVouched = !!mailauth && mailauth.arc.result === 'pass' && mailauth.arc.recordedPass && sealerTrusted(mailauth.arc.sealer, settings.trustedArcSealers);
    const compauth = composeAuth({
      bypass, author: compauthAuthor, authorIsOurs, p1IsOurs: sender.p1DirectSend || isOwnDomain(policy, sender.p1Domain),
      spf: mailauth?.spf ?? { result: 'none', domain: null },
      dkim: mailauth?.dkim ?? [],
      dmarc: mailauth ? { result: mailauth.dmarc.result, policy: mailauth.dmarc.policy } : { result: 'none', policy: null },
      trustedArcVouched: arcVouched,
    });

    const auth: AuthResults = {
      spf: { result: mailauth?.spf.result ?? 'none', domain: mailauth?.spf.domain ?? null },
      dkim: (mailauth?.dkim ?? []).map((d) => ({ result: d.result, domain: d.domain, selector: d.selector, aligned: d.aligned && !d.partial })),
      dmarc: { result: mailauth?.dmarc.result ?? 'none', domain: authorDomain, policy: mailauth?.dmarc.policy ?? null },
      arc: { result: mailauth?.arc.result ?? 'none', sealer: mailauth?.arc.sealer ?? null },
      compauth: { result: compauth.result, reason: compauth.reason },
      spfHelo: mailauth?.spfHelo ?? undefined,
      source: { ip: source.ip ?? 'unknown', helo: source.helo, skippedHops: source.skipped },
    };
    const spfDomain = auth.spf.domain;
    const decided = decideAuthVerdict({
      compauth, authorDomain, authorIsOurs,
      spf: auth.spf.result, spfAligned: !!spfDomain && !!authorDomain && relaxedAligned(spfDomain, authorDomain),
      dkim: auth.dkim.map((d) => d.result), dkimAligned: (mailauth?.dkim ?? []).map((d) => d.aligned),
      dmarc: { result: auth.dmarc.result, policy: auth.dmarc.policy as 'none' | 'quarantine' | 'reject' | null },
      attribution: sender.attribution,
    }, settings);

    const verdict = withTraceHits(decided.verdict, source, mailauth?.dkimNotEvaluated ?? 0, settings.maxDkimSignatures);
    return {
      auth,
      authenticationResults: formatAuthenticationResults(authservId, mailauth, compauth, source),
      verdict,
      scl: decided.scl,
    };
  }
}
