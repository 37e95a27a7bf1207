// Composite authentication (SPEC §4). Pure: authentication facts in, `compauth` and a reason
// code out. The families follow Exchange Online's so its users can read them; the individual
// numbers inside a family are mxward's own (listed in docs/authentication.md):
//
//   100 DMARC pass                      130 DMARC not passed, trusted ARC sealer vouched
//   105 DMARC record unavailable (temperror), but an identifier of the author domain itself passes
//   109 no DMARC policy, aligned SPF/DKIM pass (implicit pass)
//   201 implicit, unaligned DKIM pass   202 implicit, unaligned SPF pass
//   000 DMARC fail, p=quarantine/reject 010 same, author domain is one of ours
//   001 implicit fail: no usable DMARC policy (none or p=none) and nothing passes
//   003 DMARC temperror: the author domain's policy is unknown and nothing aligned passes
//   601 implicit fail on our domain, P1 also ours (the Direct Send spoof signature)
//   602 implicit fail on our domain, P1 foreign or null (header-From spoof)
//   301 fail: no From address           302 fail: no single author (several fields, mailboxes or
//                                           domains, unusable address) and no enforcing policy
//   401 bypassed: SMTP AUTH (internal)  402 bypassed: on-premises connector
//
// Every DMARC result has an outcome here (issue 19): pass, fail, none, temperror, and permerror
// (a broken record is no policy, RFC 7489 §6.6.3; the implicit rules then apply).
import type { AuthResultValue } from '../domain/types.ts';
import { relaxedAligned, strictAligned } from './org-domain.ts';

import type { Compauth, CompauthResult } from '../domain/types.ts';
export type { Compauth, CompauthResult };

export type CompauthAuthor =
  | { domain: string }
  | { problem: 'no-from' }
  /** Several From fields or mailboxes, or an unusable address: RFC 7489 §6.6.1 lets us fail it. */
  | { problem: 'multiple-domains' | 'ambiguous'; domains?: string[] };

export interface CompauthInput {
  /** How the session was attributed (SPEC §1); internal ones bypass (4xx). */
  bypass: 'smtp-auth' | 'on-premises' | null;
  author: CompauthAuthor;
  authorIsOurs: boolean;
  p1IsOurs: boolean;
  spf: { result: AuthResultValue; domain: string | null };
  /** `partial`: an l= signature with body content past the signed length; it aligns with nothing. */
  dkim: Array<{ result: AuthResultValue; domain: string; partial?: boolean }>;
  /**
   * `policy` is the policy that applies to this message (after sp/np/pct), null without a record.
   * For an ambiguous author: `fail` and the strictest policy of the domains it names.
   */
  dmarc: { result: AuthResultValue; policy: 'none' | 'quarantine' | 'reject' | null };
  /** A valid ARC chain whose latest sealer is trusted and recorded a DMARC pass for this author. */
  trustedArcVouched: boolean;
}


/** Relaxed alignment via the Public Suffix List (kept under its old name for callers). */
export function looselyAligned(a: string, b: string): boolean {
  return relaxedAligned(a, b);
}

function enforcing(policy: CompauthInput['dmarc']['policy']): policy is 'quarantine' | 'reject' {
  return policy === 'quarantine' || policy === 'reject';
}

function composeWithoutAuthor(input: CompauthInput, author: Exclude<CompauthAuthor, { domain: string }>): Compauth {
  if (author.problem === 'no-from') return { result: 'fail', reason: '301', explanation: 'no From address: there is no author to authenticate' };
  const named = author.domains && author.domains.length > 0 ? ` (${author.domains.join(', ')})` : '';
  if (input.dmarc.result === 'fail' && enforcing(input.dmarc.policy)) {
    return input.authorIsOurs
      ? { result: 'fail', reason: '010', explanation: `no single author${named}; treated as a DMARC fail (p=${input.dmarc.policy}) of our domain` }
      : { result: 'fail', reason: '000', explanation: `no single author${named}; treated as a DMARC fail (p=${input.dmarc.policy}), RFC 7489 §6.6.1` };
  }
  return { result: 'fail', reason: '302', explanation: `no single author${named}: DMARC cannot pass` };
}

export function composeAuth(input: CompauthInput): Compauth {
  if (input.bypass === 'smtp-auth') return { result: 'none', reason: '401', explanation: 'bypassed: authenticated submission' };
  if (input.bypass === 'on-premises') return { result: 'none', reason: '402', explanation: 'bypassed: on-premises connector' };
  if ('problem' in input.author) return composeWithoutAuthor(input, input.author);
  const domain = input.author.domain;
  if (input.dmarc.result === 'pass') return { result: 'pass', reason: '100', explanation: `DMARC pass for ${domain}` };
  if (input.trustedArcVouched) return { result: 'pass', reason: '130', explanation: 'DMARC did not pass; a trusted ARC sealer recorded a DMARC pass for this author' };

  const spfPass = input.spf.result === 'pass' && input.spf.domain !== null;
  const dkimPasses = input.dkim.filter((d) => d.result === 'pass');
  const fullDkimPasses = dkimPasses.filter((d) => !d.partial);
  if (input.dmarc.result === 'temperror') {
    // The record (and so adkim/aspf) is unknown; an identical-domain pass aligns in every mode.
    const identical = (spfPass && strictAligned(input.spf.domain!, domain)) || fullDkimPasses.some((d) => strictAligned(d.domain, domain));
    return identical
      ? { result: 'pass', reason: '105', explanation: `DMARC record of ${domain} unavailable, but ${domain} itself authenticates` }
      : { result: 'fail', reason: '003', explanation: `DMARC record of ${domain} unavailable (temperror) and nothing aligned passes` };
  }
  if (input.dmarc.result === 'fail' && enforcing(input.dmarc.policy)) {
    return input.authorIsOurs
      ? { result: 'fail', reason: '010', explanation: `DMARC fail for our domain ${domain} (p=${input.dmarc.policy})` }
      : { result: 'fail', reason: '000', explanation: `DMARC fail for ${domain} (p=${input.dmarc.policy})` };
  }

  // Implicit authentication: no record (none, or permerror: RFC 7489 §6.6.3), or p=none.
  const aligned = (spfPass && relaxedAligned(input.spf.domain!, domain)) || fullDkimPasses.some((d) => relaxedAligned(d.domain, domain));
  if (aligned && input.dmarc.policy === null) return { result: 'pass', reason: '109', explanation: `no DMARC policy; aligned pass for ${domain}` };
  if (input.authorIsOurs) {
    // mxward: for our own domains an unaligned pass proves nothing about the From (SPEC §4 6xx).
    return input.p1IsOurs
      ? { result: 'fail', reason: '601', explanation: `nothing authenticates our domain ${domain}; envelope sender also ours (Direct Send spoof)` }
      : { result: 'fail', reason: '602', explanation: `nothing authenticates our domain ${domain} in From; envelope sender foreign` };
  }
  if (dkimPasses.length > 0) return { result: 'softpass', reason: '201', explanation: `unaligned DKIM pass (${dkimPasses[0].domain})` };
  if (spfPass) return { result: 'softpass', reason: '202', explanation: `unaligned SPF pass (${input.spf.domain})` };
  return { result: 'fail', reason: '001', explanation: `nothing authenticates ${domain} and it publishes no enforcing DMARC policy` };
}
