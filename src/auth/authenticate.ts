// SPF (MAIL FROM and HELO, RFC 7208 §2.3/§2.4), DKIM (RFC 6376), DMARC on the author domain
// (RFC 7489 / RFC 9989) and ARC (RFC 8617), through mailauth with the injected resolver, in an
// order an attacker cannot exploit (issue 19): the author domain's DMARC records and the aligned
// identifiers are asked first (message-lookup.ts), DKIM signatures are capped (dkim-select.ts),
// and where mailauth declines to evaluate DMARC while there is a domain, mxward does
// (dmarc-fallback.ts). This module reports; it never decides (DESIGN.md): policy/auth-verdict.ts does.
import { isIP } from 'node:net';
import { authenticate, spf as checkSpf } from 'mailauth';
import type { AuthResultValue } from '../domain/types.ts';
import type { DnsLookup } from './resolver.ts';
import { createMessageLookup, dmarcWalkNames } from './message-lookup.ts';
import type { MessageLookup } from './message-lookup.ts';
import { prepareForVerification } from './dkim-select.ts';
import { attachKeyCache, installKeyCacheHook } from './key-cache.ts';
import { installParserScans } from './parser-scans.ts';
import { installRelaxedBodyScan } from './relaxed-body-scan.ts';
import type { SharedKeyCache } from './key-cache.ts';
import { discoverPolicy, evaluateDmarc, strictestPolicy } from './dmarc-fallback.ts';
import { organizationalDomain, relaxedAligned } from './org-domain.ts';

export interface AuthenticateInput {
  messagePath: string;
  /** The message itself when it is held in memory; read instead of the file. */
  messageBytes?: Buffer | null;
  /** Its header fields as the canonical header step read them (they are what was spooled). */
  headerFields?: ReadonlyArray<{ name: string; raw: string }>;
  /** The source to judge; null when it could not be determined behind trusted hops (SPF is then none). */
  ip: string | null;
  helo: string | null;
  /** MAIL FROM; null for `<>` (SPF then checks postmaster@HELO, RFC 7208 §2.4). */
  mailFrom: string | null;
  authservId: string;
  lookup: DnsLookup;
  minKeyBits: number;
  /** RSA keys above this are refused unverified (RFC 8301 §3.2 asks verifiers to handle 4096). */
  maxKeyBits?: number;
  /** DKIM signatures verified per message; the rest are reported as not evaluated. */
  maxDkimSignatures?: number;
  /** The one author domain (MessageFacts.author single), when known: it orders the lookups. */
  authorDomain?: string | null;
  /** The domains an ambiguous author names: each is treated as failing DMARC (RFC 7489 §6.6.1). */
  namedDomains?: string[];
  /** DMARC pct sampling (RFC 7489 §6.6.4); injected so tests are deterministic. */
  sample?: () => number;
  /** DKIM/ARC keys parsed once per record text across messages (key-cache.ts); absent = per message. */
  keyCache?: SharedKeyCache;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DkimFact {
  result: AuthResultValue;
  domain: string;
  selector: string | null;
  /** d= aligns (relaxed, Public Suffix List) with the author domain. */
  aligned: boolean;
  /** l= with body content beyond the signed length: covers the message only partly. */
  partial: boolean;
  comment: string | null;
}

export interface MailauthFacts {
  spf: { result: AuthResultValue; domain: string | null; mailFrom: string | null; comment: string | null };
  spfHelo: { result: AuthResultValue; domain: string | null } | null;
  dkim: DkimFact[];
  /** Signatures present but not verified (over maxDkimSignatures). */
  dkimNotEvaluated: number;
  dmarc: { result: AuthResultValue; domain: string | null; policy: DmarcPolicy | null; pct: number; sampledOut: boolean; comment: string | null };
  /** No single author domain: mailauth declined DMARC (the named domains were judged instead). */
  authorProblem: 'no-from' | 'multiple-domains' | null;
  arc: { result: AuthResultValue; sealer: string | null; recordedPass: boolean; comment: string | null };
}

const RESULTS = new Set<AuthResultValue>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);

function asResult(value: unknown): AuthResultValue {
  const v = String(value ?? 'none').toLowerCase();
  return RESULTS.has(v as AuthResultValue) ? (v as AuthResultValue) : 'none';
}

// The fields of mailauth's results this module reads, typed loosely: mailauth's own typings do
// not cover hidden properties (`record`, `chain`, `alignment`).
interface LooseStatus { result?: string; aligned?: string | false; comment?: string; underSized?: number }
interface LooseDkim { signingDomain?: string; selector?: string; status?: LooseStatus }
interface LooseArcEntry { i?: number; 'arc-seal'?: { parsed?: { d?: { value?: string } } } }
interface LooseDmarc {
  status?: LooseStatus & { header?: { from?: string } };
  policy?: string; record?: { pct?: number };
  alignment?: { spf?: { result?: string | false }; dkim?: { result?: string | false; underSized?: number } };
}

const DOWNGRADE: Record<DmarcPolicy, DmarcPolicy> = { reject: 'quarantine', quarantine: 'none', none: 'none' };
const DEFAULT_MAX_SIGNATURES = 10;
const DEFAULT_MAX_KEY_BITS = 4096;
/** Address used for mailauth's SPF when the real source is unknown; its SPF result is discarded. */
const UNKNOWN_SOURCE_IP = '0.0.0.0';

function arcSealer(chain: LooseArcEntry[] | undefined): string | null {
  if (!chain || chain.length === 0) return null;
  const last = chain.reduce((a, b) => ((b.i ?? 0) > (a.i ?? 0) ? b : a));
  return last['arc-seal']?.parsed?.d?.value?.toLowerCase() ?? null;
}

/**
 * True when the ARC-Authentication-Results the latest sealer wrote records a DMARC pass for this
 * author domain (RFC 8617 §4.1.1, issue 19): an SPF or DKIM pass alone may be the attacker's own.
 */
export function recordedPass(aar: Record<string, unknown> | undefined, authorDomain: string | null): boolean {
  if (!aar || !authorDomain) return false;
  const dmarc = aar.dmarc as { result?: string; header?: { from?: string } } | undefined;
  const from = String(dmarc?.header?.from ?? '').toLowerCase().replace(/\.$/, '');
  return dmarc?.result === 'pass' && from === authorDomain.toLowerCase().replace(/\.$/, '');
}

function mailFromDomain(mailFrom: string | null, helo: string | null): string | null {
  const at = mailFrom ? mailFrom.lastIndexOf('@') : -1;
  if (mailFrom && at > 0) return mailFrom.slice(at + 1).toLowerCase();
  return mailFrom ? null : helo?.toLowerCase() ?? null;
}

/** Questions whose answers decide the verdict, asked before anything an attacker chose (issue 19). */
async function prefetchDecisive(lookup: MessageLookup, input: AuthenticateInput, keys: Array<{ domain: string; selector: string; aligned: boolean }>): Promise<void> {
  const questions: Array<[string, string]> = [];
  for (const domain of [input.authorDomain, ...(input.namedDomains ?? [])].filter((d): d is string => !!d).slice(0, 5)) {
    for (const name of dmarcWalkNames(domain)) questions.push([name, 'TXT']);
  }
  // A subdomain author may get the np= policy, which needs its existence (RFC 9989 A.4).
  if (input.authorDomain && organizationalDomain(input.authorDomain) !== input.authorDomain.toLowerCase()) questions.push([input.authorDomain, 'A'], [input.authorDomain, 'CNAME']);
  for (const k of keys) if (k.aligned && k.domain && k.selector) questions.push([`${k.selector}._domainkey.${k.domain}`, 'TXT']);
  const spfDomain = mailFromDomain(input.mailFrom, input.helo);
  if (input.ip && spfDomain && input.authorDomain && relaxedAligned(spfDomain, input.authorDomain)) questions.push([spfDomain, 'TXT']);
  await lookup.prefetch(questions);
}

function dkimFacts(rows: LooseDkim[], authorDomain: string | null, refused: Map<string, string>): DkimFact[] {
  return rows.filter((r) => r.signingDomain).map((r) => {
    const domain = String(r.signingDomain).toLowerCase();
    let result = asResult(r.status?.result);
    let comment = r.status?.comment ?? null;
    // mailauth's lenient mode calls a body hash mismatch `neutral`; RFC 6376 §3.7 makes it a
    // verification failure and RFC 8601 §2.7.1 names that `fail`, as mailauth's strict mode does.
    if (result === 'neutral' && /body hash did not verify/.test(String(comment ?? ''))) result = 'fail';
    const why = r.selector ? refused.get(`${r.selector}._domainkey.${domain}`.toLowerCase()) : undefined;
    if (why) { result = 'permerror'; comment = `key refused: ${why}`; }
    const partial = result === 'pass' && (r.status?.underSized ?? 0) > 0;
    if (partial) comment = `l= leaves ${r.status?.underSized} body bytes unsigned: not counted for alignment`;
    return { result, domain, selector: r.selector ?? null, aligned: !!authorDomain && relaxedAligned(domain, authorDomain), partial, comment };
  });
}

export async function runMailauth(input: AuthenticateInput): Promise<MailauthFacts> {
  const lookup = createMessageLookup(input.lookup, { maxKeyBits: input.maxKeyBits ?? DEFAULT_MAX_KEY_BITS }, input.keyCache);
  const prepared = await prepareForVerification({ bytes: input.messageBytes ?? null, path: input.messagePath, fields: input.headerFields }, input.authorDomain ?? null, input.maxDkimSignatures ?? DEFAULT_MAX_SIGNATURES);
  await prefetchDecisive(lookup, input, prepared.selection.kept);
  const perMessage = lookup.lookup as (name: string, rrtype: string) => Promise<string[]>;
  if (input.keyCache) installKeyCacheHook();
  await installParserScans();
  installRelaxedBodyScan();
  // A fresh function per message: the mark must not leak onto the memo shared with decideDmarc.
  const resolver = input.keyCache ? attachKeyCache((name: string, rrtype: string) => perMessage(name, rrtype), input.keyCache) : perMessage;
  const sourceKnown = input.ip !== null;
  const result = await authenticate(prepared.input, {
    ip: input.ip ?? UNKNOWN_SOURCE_IP,
    helo: input.helo ?? undefined,
    sender: input.mailFrom ?? undefined,
    mta: input.authservId,
    resolver,
    minBitLength: input.minKeyBits,
    disableBimi: true,
    // Without a known source SPF proves nothing, so mailauth's DMARC (which counts it) is not used.
    disableDmarc: !sourceKnown,
    trustReceived: false,
  });

  const spfRaw = result.spf as { status?: LooseStatus; domain?: string } | false;
  const spf: MailauthFacts['spf'] = sourceKnown
    ? { result: asResult(spfRaw ? spfRaw.status?.result : 'none'), domain: spfRaw ? spfRaw.domain ?? null : null, mailFrom: input.mailFrom ?? (input.helo ? `postmaster@${input.helo}` : null), comment: null }
    : { result: 'none', domain: null, mailFrom: input.mailFrom, comment: 'source behind the trusted hops could not be determined' };

  // RFC 7208 §2.3: the HELO identity is checked as well when there is a MAIL FROM (with `<>`
  // the MAIL FROM check above already was the HELO check). Address-literal HELOs have no SPF.
  let spfHelo: MailauthFacts['spfHelo'] = null;
  if (sourceKnown && input.mailFrom && input.helo && !isIP(input.helo.replace(/^\[|\]$/g, '')) && input.helo.includes('.')) {
    const h = await checkSpf({ sender: `postmaster@${input.helo}`, ip: input.ip!, helo: input.helo, mta: input.authservId, resolver });
    spfHelo = { result: asResult((h as { status?: LooseStatus }).status?.result), domain: input.helo.toLowerCase() };
  }

  const authorDomain = input.authorDomain?.toLowerCase() ?? null;
  const dkim = dkimFacts((result.dkim as { results?: LooseDkim[] }).results ?? [], authorDomain, lookup.refusedKeys);
  const dmarcInfo = { raw: result.dmarc as false | LooseDmarc, skipReason: String((result as { dmarcSkipReason?: string }).dmarcSkipReason ?? '') };
  const { dmarc, authorProblem } = await decideDmarc(input, lookup, dmarcInfo, { spf, dkim }, sourceKnown);

  const arcRaw = result.arc as (false | { status?: LooseStatus; authenticationResults?: Record<string, unknown>; chain?: LooseArcEntry[]; i?: number });
  const arc = {
    result: asResult(arcRaw ? arcRaw.status?.result : 'none'),
    sealer: arcRaw ? arcSealer(arcRaw.chain) : null,
    recordedPass: arcRaw ? recordedPass(arcRaw.authenticationResults, dmarc.domain) : false,
    comment: arcRaw && arcRaw.i ? `i=${arcRaw.i}` : null,
  };
  return { spf, spfHelo, dkim, dkimNotEvaluated: prepared.selection.dropped, dmarc, authorProblem, arc };
}

function applyPct(policy: DmarcPolicy | null, pct: number, sample: (() => number) | undefined): { policy: DmarcPolicy | null; sampledOut: boolean } {
  // RFC 7489 §6.6.4: a message not selected by pct gets the next less strict policy.
  // (RFC 9989 drops pct; mxward still honours it because the issue asks for it.)
  const sampledOut = policy !== null && pct < 100 && (sample ?? Math.random)() * 100 >= pct;
  return { policy: sampledOut && policy ? DOWNGRADE[policy] : policy, sampledOut };
}

async function decideDmarc(
  input: AuthenticateInput, lookup: MessageLookup, mailauth: { raw: false | LooseDmarc; skipReason: string },
  ids: { spf: MailauthFacts['spf']; dkim: DkimFact[] }, sourceKnown: boolean,
): Promise<{ dmarc: MailauthFacts['dmarc']; authorProblem: MailauthFacts['authorProblem'] }> {
  const raw = mailauth.raw;
  const ambiguous = !input.authorDomain && (input.namedDomains?.length ?? 0) > 0;
  const rawDomain = raw ? raw.status?.header?.from?.toLowerCase() ?? null : null;
  // mailauth's answer is used when it judged the author mxward determined (or none was given).
  const sameAuthor = !input.authorDomain || rawDomain === input.authorDomain.toLowerCase();
  if (raw && sourceKnown && !ambiguous && sameAuthor) {
    const pct = typeof raw.record?.pct === 'number' ? Math.max(0, Math.min(100, raw.record.pct)) : 100;
    const declared = (['none', 'quarantine', 'reject'].includes(String(raw.policy)) ? raw.policy : null) as DmarcPolicy | null;
    const { policy, sampledOut } = applyPct(declared, pct, input.sample);
    let result = asResult(raw.status?.result);
    let comment = declared ? `p=${declared}` : null;
    // Issue 19: a pass carried only by l= signatures that leave part of the body unsigned is not one.
    if (result === 'pass' && !raw.alignment?.spf?.result && (raw.alignment?.dkim?.underSized ?? 0) > 0) {
      result = 'fail';
      comment = `${comment ?? ''} only an l= signature aligns and it does not cover the body`.trim();
    }
    const domain = rawDomain ?? input.authorDomain ?? null;
    return { dmarc: { result, domain, policy, pct, sampledOut, comment }, authorProblem: null };
  }
  // mailauth declined (or was told to: unknown source). Decide ourselves, never "no record".
  const authorProblem = input.authorDomain ? null : mailauth.skipReason.startsWith('multiple') || (input.namedDomains?.length ?? 0) > 1 ? 'multiple-domains' : 'no-from';
  if (input.authorDomain) {
    const discovery = await discoverPolicy(input.authorDomain, lookup.lookup);
    const evaluated = evaluateDmarc(input.authorDomain, discovery, ids);
    const pct = discovery.kind === 'record' ? discovery.pct : 100;
    const { policy, sampledOut } = applyPct(evaluated.policy, pct, input.sample);
    const comment = discovery.kind === 'temperror' ? `record lookup failed: ${discovery.detail}` : 'evaluated by mxward';
    return { dmarc: { result: evaluated.result, domain: input.authorDomain.toLowerCase(), policy, pct, sampledOut, comment }, authorProblem };
  }
  const named = [...new Set((input.namedDomains ?? []).map((d) => d.toLowerCase()))].slice(0, 5);
  if (named.length === 0) return { dmarc: { result: 'none', domain: null, policy: null, pct: 100, sampledOut: false, comment: 'no author domain' }, authorProblem };
  // RFC 7489 §6.6.1: no single author; fail DMARC for every domain named, with the strictest policy.
  const discoveries = await Promise.all(named.map((d) => discoverPolicy(d, lookup.lookup)));
  const policy = strictestPolicy(discoveries);
  const domain = named[discoveries.findIndex((d) => d.kind === 'record' && d.policy === policy)] ?? named[0];
  return { dmarc: { result: 'fail', domain, policy, pct: 100, sampledOut: false, comment: `no single author (${named.join(', ')})` }, authorProblem };
}
