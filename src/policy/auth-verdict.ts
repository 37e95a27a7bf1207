// What mxward does with the authentication results at end of DATA (SPEC §2.6, §2.7). Pure: the
// results and settings in, a Verdict (or none) out. auth/ reports, this decides.
import type { Attribution, AuthResultValue, Compauth, RuleHit, Verdict } from '../domain/types.ts';
import { dmarcRejectReply, replies } from './replies.ts';

export interface AuthVerdictSettings {
  honorDmarc: boolean;
  dmarcRejectAction: 'reject' | 'quarantine';
  antiSpoofAction: 'quarantine' | 'junk' | 'reject';
  junkScl: number;
  /** auth.spfHardFailAction; missing = none (the compauth verdict alone). */
  spfHardFailAction?: 'none' | 'junk' | 'quarantine' | 'reject';
}

export interface AuthVerdictInput {
  compauth: Compauth;
  authorDomain: string | null;
  authorIsOurs: boolean;
  spf: AuthResultValue;
  /** Whether the SPF identity aligns with the author domain; missing = assume it does. */
  spfAligned?: boolean;
  dkim: AuthResultValue[];
  /** Per DKIM entry (same order): whether its d= aligns with the author; missing = assume it does. */
  dkimAligned?: boolean[];
  dmarc: { result: AuthResultValue; policy: 'none' | 'quarantine' | 'reject' | null };
  /** Who the message is from; the SPF hard-fail action applies to anonymous and partner mail only. */
  attribution?: Attribution;
}

/**
 * Rule names the quarantine reads to choose a policy per verdict type (SPEC §6); each
 * quarantine or reject verdict below carries exactly one of them.
 */
export const QUARANTINE_RULES = {
  ownDomainSpoof: 'antiSpoof.ownDomain',
  foreignSpoof: 'antiSpoof.foreignDomain',
  dmarcQuarantine: 'dmarc.quarantine',
  dmarcReject: 'dmarc.reject',
} as const;

export interface AuthVerdict {
  verdict: Verdict | null;
  scl: number | null;
}

function verdictOf(action: Verdict['action'], reply: Verdict['reply'], hits: RuleHit[]): Verdict {
  return { action, reply, stage: 'data', hits };
}

/**
 * SPEC §2.7, scoped (issue 19): a temperror matters only when its missing answer could have
 * changed the outcome. The author domain's DMARC record always could; an SPF or DKIM identity
 * only when it aligns with the author (an unaligned pass cannot rescue a DMARC fail, nor our own
 * domain's 6xx), except for the implicit 001 case where an unaligned pass would give softpass.
 * Without any author (301/302) nothing could pass: no temperror matters.
 */
export function temperrorDecides(input: AuthVerdictInput): boolean {
  const reason = input.compauth.reason;
  if (reason === '301' || reason === '302') return false;
  if (input.dmarc.result === 'temperror') return true;
  const anyIdentity = reason === '001';
  if (input.spf === 'temperror' && (anyIdentity || input.spfAligned !== false)) return true;
  return input.dkim.some((r, i) => r === 'temperror' && (anyIdentity || input.dkimAligned?.[i] !== false));
}

function decideCompauthVerdict(input: AuthVerdictInput, settings: AuthVerdictSettings): AuthVerdict {
  const { compauth } = input;
  const compauthHit = { rule: 'compauth', detail: `compauth=${compauth.result} reason=${compauth.reason}: ${compauth.explanation}` };
  // 4xx: internal mail is not judged (EXO marks it SCL -1).
  if (compauth.reason.startsWith('4')) return { verdict: null, scl: -1 };
  if (compauth.result !== 'fail') return { verdict: null, scl: null };

  // SPEC §2.7: a failure that a temporary DNS error may have caused is not a verdict yet.
  if (temperrorDecides(input)) {
    return { verdict: verdictOf('tempfail', replies.tempAuth, [compauthHit, { rule: 'auth.temperror', detail: 'a DNS lookup the verdict depends on failed temporarily' }]), scl: null };
  }

  const domain = input.authorDomain ?? '';
  if (settings.honorDmarc && input.dmarc.result === 'fail' && input.dmarc.policy === 'reject') {
    const hit = { rule: QUARANTINE_RULES.dmarcReject, detail: `DMARC fail for ${domain}, policy reject (action ${settings.dmarcRejectAction})` };
    return settings.dmarcRejectAction === 'reject'
      ? { verdict: verdictOf('reject', dmarcRejectReply(domain), [compauthHit, hit]), scl: null }
      : { verdict: verdictOf('quarantine', null, [compauthHit, hit]), scl: settings.junkScl };
  }
  if (settings.honorDmarc && input.dmarc.result === 'fail' && input.dmarc.policy === 'quarantine') {
    return { verdict: verdictOf('quarantine', null, [compauthHit, { rule: QUARANTINE_RULES.dmarcQuarantine, detail: `DMARC fail for ${domain}, policy quarantine` }]), scl: settings.junkScl };
  }

  // Every other fail, a message without a single author (301/302) included, is a spoof: it is
  // never accepted silently (issue 19).
  const spoofRule = input.authorIsOurs ? QUARANTINE_RULES.ownDomainSpoof : QUARANTINE_RULES.foreignSpoof;
  const what = domain ? `${input.authorIsOurs ? 'our domain ' : ''}${domain}` : 'a message without a single author';
  const spoofHit = { rule: spoofRule, detail: `spoof of ${what} (anti-spoof action ${settings.antiSpoofAction})` };
  switch (settings.antiSpoofAction) {
    case 'reject': return { verdict: verdictOf('reject', replies.spoofReject, [compauthHit, spoofHit]), scl: null };
    case 'junk': return { verdict: verdictOf('junk', null, [compauthHit, spoofHit]), scl: settings.junkScl };
    default: return { verdict: verdictOf('quarantine', null, [compauthHit, spoofHit]), scl: settings.junkScl };
  }
}

export const SPF_HARD_FAIL_RULE = 'spf.hardFail';

const SEVERITY: Record<Verdict['action'], number> = { accept: 0, junk: 1, quarantine: 2, tempfail: 3, reject: 4 };

/**
 * EOP's MarkAsSpamSpfRecordHardFail: SPF fail (the domain's `-all` excludes this source, RFC 7208
 * §2.6.4) is a verdict of its own, for anonymous and partner mail compauth did not pass. Internal
 * mail (4xx) never gets here; a pass means DMARC or an aligned identity vouched for the author.
 */
function decideSpfHardFail(input: AuthVerdictInput, settings: AuthVerdictSettings): AuthVerdict | null {
  const action = settings.spfHardFailAction ?? 'none';
  if (action === 'none' || input.spf !== 'fail' || input.compauth.result === 'pass') return null;
  if (input.attribution === 'internal' || input.compauth.reason.startsWith('4')) return null;
  const hit = { rule: SPF_HARD_FAIL_RULE, detail: `SPF hard fail with compauth=${input.compauth.result} (action ${action})` };
  if (action === 'reject') return { verdict: verdictOf('reject', replies.spfHardFail, [hit]), scl: null };
  return { verdict: verdictOf(action, null, [hit]), scl: settings.junkScl };
}

export function decideAuthVerdict(input: AuthVerdictInput, settings: AuthVerdictSettings): AuthVerdict {
  const base = decideCompauthVerdict(input, settings);
  const spf = decideSpfHardFail(input, settings);
  if (!spf?.verdict) return base;
  if (!base.verdict) return spf;
  // A pending retry (SPEC §2.7) stays a retry: the temporary error may turn compauth into a pass.
  const spfWins = base.verdict.action !== 'tempfail' && SEVERITY[spf.verdict.action] > SEVERITY[base.verdict.action];
  const winner = spfWins ? spf : base;
  // The trace shows both rules whichever decided; the stricter action and its reply apply.
  return { verdict: { ...winner.verdict!, hits: [...base.verdict.hits, ...spf.verdict.hits] }, scl: winner.scl };
}
