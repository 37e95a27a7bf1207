// The end-of-DATA email-authentication check (SPEC §2.6): authenticate the message against the
// real source, compose compauth (§4), stamp Authentication-Results (RFC 8601) and hand the
// results to the pure verdict in policy/auth-verdict.ts.
import type { AuthSettings } from '../config/auth-schema.ts';
import type { AuthResults } from '../domain/types.ts';
import { findAcceptedDomain } from '../policy/compile.ts';
import type { IpRange } from '../policy/compile.ts';
import { parseAddress } from '../policy/domains.ts';
import { decideAuthVerdict } from '../policy/auth-verdict.ts';
import type { EndOfDataCheck, EndOfDataInput, EndOfDataResult } from '../smtp/context.ts';
import { runMailauth } from './authenticate.ts';
import type { MailauthFacts } from './authenticate.ts';
import { composeAuth } from './compauth.ts';
import type { Compauth, CompauthInput } from './compauth.ts';
import { compileHops, findMessageSource } from './received-chain.ts';
import type { DnsResolver } from './resolver.ts';

export interface AuthCheckOptions {
  settings: AuthSettings;
  resolver: DnsResolver;
  authservId: string;
  sample?: () => number;
}

/** Header values reach the wire: keep client-controlled text to one printable line. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+[ \t]*/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

/** RFC 8601 §2.2 value: authserv-id, then one resinfo per method, compauth last (SPEC §4). */
export function formatAuthenticationResults(authservId: string, facts: MailauthFacts | null, compauth: Compauth, source: { ip: string; helo: string | null }): string {
  const parts: string[] = [];
  if (facts) {
    parts.push(facts.spf.info ? oneLine(facts.spf.info) : `spf=${facts.spf.result}`);
    if (facts.spfHelo) parts.push(`spf=${facts.spfHelo.result} smtp.helo=${oneLine(facts.spfHelo.domain ?? '')}`);
    if (facts.dkim.length === 0) parts.push('dkim=none (message not signed)');
    for (const d of facts.dkim) parts.push(oneLine(d.info));
    if (facts.dmarc.info) parts.push(oneLine(facts.dmarc.info) + (facts.dmarc.sampledOut ? ` (pct=${facts.dmarc.pct} sampled out)` : ''));
    else parts.push(`dmarc=none (${facts.authorProblem === 'multiple-domains' ? 'several author domains' : 'no author domain'})`);
    if (facts.arc.info) parts.push(oneLine(facts.arc.info));
  } else {
    parts.push('spf=none', 'dkim=none', 'dmarc=none');
  }
  parts.push(`compauth=${compauth.result} reason=${compauth.reason}`);
  // The client judged, as an RFC 8601 comment: it differs from the connecting one behind trusted hops.
  return `${oneLine(authservId)};\r\n\t${parts.join(';\r\n\t')} (source ${source.ip})`;
}

function sealerTrusted(sealer: string | null, trusted: readonly string[]): boolean {
  if (!sealer) return false;
  return trusted.some((t) => { const d = t.toLowerCase().replace(/\.$/, ''); return sealer === d || sealer.endsWith(`.${d}`); });
}

export class AuthCheck implements EndOfDataCheck {
  readonly name = 'email-authentication';
  readonly #options: AuthCheckOptions;
  readonly #hops: IpRange[];

  constructor(options: AuthCheckOptions) {
    this.#options = options;
    this.#hops = compileHops(options.settings.trustedHops);
  }

  async run(input: EndOfDataInput): Promise<EndOfDataResult> {
    const { settings, resolver, authservId } = this.#options;
    const { sender, facts, policy } = input;
    const source = findMessageSource(facts.remoteIp, facts.helo, input.headerFields, this.#hops);
    const authorDomains = [...new Set(input.message.headerFrom.map((a) => parseAddress(a).domain).filter((d): d is string => !!d))];
    const authorIsOurs = authorDomains.length === 1 && findAcceptedDomain(policy, authorDomains[0]) !== null;
    const bypass: CompauthInput['bypass'] = sender.attribution !== 'internal' ? null : facts.authUser ? 'smtp-auth' : 'on-premises';

    let mailauth: MailauthFacts | null = null;
    if (!bypass) {
      const lookup = resolver.forMessage(settings.messageBudgetMs, settings.maxQueriesPerMessage);
      mailauth = await runMailauth({
        messagePath: input.messagePath, messageBytes: input.messageBytes, ip: source.ip, helo: source.helo, mailFrom: sender.mailFrom,
        authservId, lookup, minKeyBits: settings.minKeyBits, sample: this.#options.sample,
      });
    }

    const authorDomain = mailauth?.dmarc.domain ?? (authorDomains.length === 1 ? authorDomains[0] : null);
    const author: CompauthInput['author'] = authorDomain ? { domain: authorDomain.toLowerCase() }
      : { problem: mailauth?.authorProblem ?? (authorDomains.length > 1 ? 'multiple-domains' : 'no-from') };
    const arcVouched = !!mailauth && mailauth.arc.result === 'pass' && mailauth.arc.recordedPass && sealerTrusted(mailauth.arc.sealer, settings.trustedArcSealers);
    const compauth = composeAuth({
      bypass, author, authorIsOurs, p1IsOurs: sender.p1DirectSend || findAcceptedDomain(policy, sender.p1Domain) !== null,
      spf: mailauth?.spf ?? { result: 'none', domain: null },
      dkim: mailauth?.dkim ?? [],
      dmarc: mailauth ? { result: mailauth.dmarc.result, policy: mailauth.dmarc.policy } : { result: 'none', policy: null },
      trustedArcVouched: arcVouched,
    });

    const auth: AuthResults = {
      spf: { result: mailauth?.spf.result ?? 'none', domain: mailauth?.spf.domain ?? null },
      dkim: (mailauth?.dkim ?? []).map((d) => ({ result: d.result, domain: d.domain, selector: d.selector, aligned: d.aligned })),
      dmarc: { result: mailauth?.dmarc.result ?? 'none', domain: authorDomain, policy: mailauth?.dmarc.policy ?? null },
      arc: { result: mailauth?.arc.result ?? 'none', sealer: mailauth?.arc.sealer ?? null },
      compauth: { result: compauth.result, reason: compauth.reason },
      spfHelo: mailauth?.spfHelo ?? undefined,
      source: { ip: source.ip, helo: source.helo, skippedHops: source.skipped },
    };
    const decided = decideAuthVerdict({
      compauth, authorDomain, authorIsOurs,
      spf: auth.spf.result, dkim: auth.dkim.map((d) => d.result),
      dmarc: { result: auth.dmarc.result, policy: auth.dmarc.policy as 'none' | 'quarantine' | 'reject' | null },
    }, settings);

    let verdict = decided.verdict;
    if (!verdict && source.skipped.length > 0) {
      // An accept that still records, in the trace, which client was authenticated and why.
      verdict = { action: 'accept', reply: null, stage: 'data', hits: [] };
    }
    if (verdict && source.skipped.length > 0) {
      verdict.hits.push({ rule: 'enhancedFiltering', detail: `authenticated source ${source.ip} behind trusted hop(s) ${source.skipped.join(', ')}` });
    }
    return {
      auth,
      authenticationResults: formatAuthenticationResults(authservId, mailauth, compauth, source),
      verdict,
      scl: decided.scl,
    };
  }
}
