// Composite authentication (SPEC §4). Pure: authentication facts in, `compauth` and a reason
// code out. The families follow Exchange Online's so its users can read them; the individual
// numbers inside a family are mxward's own (listed in docs/authentication.md):
//
//   100 DMARC pass                      130 DMARC not passed, trusted ARC sealer vouched
//   109 no DMARC policy, aligned SPF/DKIM pass (implicit pass)
//   201 implicit, unaligned DKIM pass   202 implicit, unaligned SPF pass
//   000 DMARC fail, p=quarantine/reject 010 same, author domain is one of ours
//   001 implicit fail: no usable DMARC policy (none or p=none) and nothing passes
//   601 implicit fail on our domain, P1 also ours (the Direct Send spoof signature)
//   602 implicit fail on our domain, P1 foreign or null (header-From spoof)
//   301 not checked: no From address    302 not checked: several author domains (RFC 9989 §5.3.1)
//   401 bypassed: SMTP AUTH (internal)  402 bypassed: on-premises connector
import type { AuthResultValue } from '../domain/types.ts';

export type CompauthResult = 'pass' | 'fail' | 'softpass' | 'none';

export interface CompauthInput {
  /** How the session was attributed (SPEC §1); internal ones bypass (4xx). */
  bypass: 'smtp-auth' | 'on-premises' | null;
  /** The one RFC 5322.From domain, or why there is none. */
  author: { domain: string } | { problem: 'no-from' | 'multiple-domains' };
  authorIsOurs: boolean;
  p1IsOurs: boolean;
  spf: { result: AuthResultValue; domain: string | null };
  dkim: Array<{ result: AuthResultValue; domain: string }>;
  /** `policy` is the policy that applies to this message (after sp/np/pct), null without a record. */
  dmarc: { result: AuthResultValue; policy: 'none' | 'quarantine' | 'reject' | null };
  /** A valid ARC chain whose latest sealer is trusted and whose recorded results passed. */
  trustedArcVouched: boolean;
}

export interface Compauth {
  result: CompauthResult;
  reason: string;
  explanation: string;
}

/**
 * Relaxed alignment without a DMARC record to walk from (RFC 9989 §4.10.2 needs one): equal
 * domains, or one a subdomain of the other. Only used for the implicit 109 case.
 */
export function looselyAligned(a: string, b: string): boolean {
  const x = a.toLowerCase().replace(/\.$/, '');
  const y = b.toLowerCase().replace(/\.$/, '');
  return x === y || x.endsWith(`.${y}`) || y.endsWith(`.${x}`);
}

export function composeAuth(input: CompauthInput): Compauth {
  if (input.bypass === 'smtp-auth') return { result: 'none', reason: '401', explanation: 'bypassed: authenticated submission' };
  if (input.bypass === 'on-premises') return { result: 'none', reason: '402', explanation: 'bypassed: on-premises connector' };
  if ('problem' in input.author) {
    return input.author.problem === 'no-from'
      ? { result: 'none', reason: '301', explanation: 'not checked: no From address' }
      : { result: 'none', reason: '302', explanation: 'not checked: From addresses in several domains' };
  }
  const domain = input.author.domain;
  if (input.dmarc.result === 'pass') return { result: 'pass', reason: '100', explanation: `DMARC pass for ${domain}` };
  if (input.trustedArcVouched) return { result: 'pass', reason: '130', explanation: 'DMARC did not pass; a trusted ARC sealer vouched for the original authentication' };

  const explicitPolicy = input.dmarc.policy === 'quarantine' || input.dmarc.policy === 'reject';
  if (input.dmarc.result === 'fail' && explicitPolicy) {
    return input.authorIsOurs
      ? { result: 'fail', reason: '010', explanation: `DMARC fail for our domain ${domain} (p=${input.dmarc.policy})` }
      : { result: 'fail', reason: '000', explanation: `DMARC fail for ${domain} (p=${input.dmarc.policy})` };
  }

  // Implicit authentication: no record, or a p=none record that does not pass.
  const spfPass = input.spf.result === 'pass' && input.spf.domain !== null;
  const dkimPasses = input.dkim.filter((d) => d.result === 'pass');
  const aligned = (spfPass && looselyAligned(input.spf.domain!, domain)) || dkimPasses.some((d) => looselyAligned(d.domain, domain));
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
