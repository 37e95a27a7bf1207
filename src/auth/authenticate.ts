// SPF (MAIL FROM and HELO, RFC 7208 §2.3/§2.4), DKIM (every signature, RFC 6376), DMARC on the
// author domain (RFC 7489 / RFC 9989) and ARC (RFC 8617), all through mailauth with the injected
// resolver. This module reports; it never decides (DESIGN.md): policy/auth-verdict.ts does.
import { createReadStream } from 'node:fs';
import { isIP } from 'node:net';
import { authenticate, spf as checkSpf } from 'mailauth';
import type { AuthResultValue } from '../domain/types.ts';
import type { DnsLookup } from './resolver.ts';

export interface AuthenticateInput {
  messagePath: string;
  /** The message itself when it is held in memory; read instead of the file. */
  messageBytes?: Buffer | null;
  ip: string;
  helo: string | null;
  /** MAIL FROM; null for `<>` (SPF then checks postmaster@HELO, RFC 7208 §2.4). */
  mailFrom: string | null;
  authservId: string;
  lookup: DnsLookup;
  minKeyBits: number;
  /** DMARC pct sampling (RFC 7489 §6.6.4); injected so tests are deterministic. */
  sample?: () => number;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface MailauthFacts {
  spf: { result: AuthResultValue; domain: string | null; info: string | null };
  spfHelo: { result: AuthResultValue; domain: string | null } | null;
  dkim: Array<{ result: AuthResultValue; domain: string; selector: string | null; aligned: boolean; info: string }>;
  dmarc: { result: AuthResultValue; domain: string | null; policy: DmarcPolicy | null; pct: number; sampledOut: boolean; info: string | null };
  /** No single author domain: RFC 9989 §5.3.1 says DMARC cannot be evaluated. */
  authorProblem: 'no-from' | 'multiple-domains' | null;
  arc: { result: AuthResultValue; sealer: string | null; recordedPass: boolean; info: string | null };
}

const RESULTS = new Set<AuthResultValue>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);

function asResult(value: unknown): AuthResultValue {
  const v = String(value ?? 'none').toLowerCase();
  return RESULTS.has(v as AuthResultValue) ? (v as AuthResultValue) : 'none';
}

// The fields of mailauth's results this module reads, typed loosely: mailauth's own typings do
// not cover hidden properties (`record`, `chain`).
interface LooseStatus { result?: string; aligned?: string | false; comment?: string }
interface LooseDkim { signingDomain?: string; selector?: string; status?: LooseStatus; info?: string }
interface LooseArcEntry { i?: number; 'arc-seal'?: { parsed?: { d?: { value?: string } } } }

const DOWNGRADE: Record<DmarcPolicy, DmarcPolicy> = { reject: 'quarantine', quarantine: 'none', none: 'none' };

function arcSealer(chain: LooseArcEntry[] | undefined): string | null {
  if (!chain || chain.length === 0) return null;
  const last = chain.reduce((a, b) => ((b.i ?? 0) > (a.i ?? 0) ? b : a));
  return last['arc-seal']?.parsed?.d?.value?.toLowerCase() ?? null;
}

/** True when the AAR a sealer wrote says the original message authenticated (RFC 8617 §4.1.1). */
function recordedPass(aar: Record<string, unknown> | undefined): boolean {
  if (!aar) return false;
  const dmarc = aar.dmarc as { result?: string } | undefined;
  if (dmarc?.result) return dmarc.result === 'pass';
  const spf = aar.spf as { result?: string } | undefined;
  const dkim = aar.dkim as Array<{ result?: string }> | undefined;
  return spf?.result === 'pass' || (dkim ?? []).some((d) => d.result === 'pass');
}

export async function runMailauth(input: AuthenticateInput): Promise<MailauthFacts> {
  const resolver = input.lookup as (name: string, rrtype: string) => Promise<string[]>;
  const result = await authenticate(input.messageBytes ?? createReadStream(input.messagePath), {
    ip: input.ip,
    helo: input.helo ?? undefined,
    sender: input.mailFrom ?? undefined,
    mta: input.authservId,
    resolver,
    minBitLength: input.minKeyBits,
    disableBimi: true,
    trustReceived: false,
  });

  const spfRaw = result.spf as { status?: LooseStatus; domain?: string; info?: string } | false;
  const spf = { result: asResult(spfRaw ? spfRaw.status?.result : 'none'), domain: spfRaw ? spfRaw.domain ?? null : null, info: spfRaw ? spfRaw.info ?? null : null };

  // RFC 7208 §2.3: the HELO identity is checked as well when there is a MAIL FROM (with `<>`
  // the MAIL FROM check above already was the HELO check). Address-literal HELOs have no SPF.
  let spfHelo: MailauthFacts['spfHelo'] = null;
  if (input.mailFrom && input.helo && !isIP(input.helo.replace(/^\[|\]$/g, '')) && input.helo.includes('.')) {
    const h = await checkSpf({ sender: `postmaster@${input.helo}`, ip: input.ip, helo: input.helo, mta: input.authservId, resolver });
    spfHelo = { result: asResult((h as { status?: LooseStatus }).status?.result), domain: input.helo.toLowerCase() };
  }

  const dkimRows = ((result.dkim as { results?: LooseDkim[] }).results ?? []).filter((r) => r.signingDomain);
  const dkim = dkimRows.map((r) => {
    let result = asResult(r.status?.result);
    let info = r.info ?? `dkim=${result} header.d=${r.signingDomain}`;
    // mailauth's lenient mode calls a body hash mismatch `neutral`; RFC 6376 §3.7 makes it a
    // verification failure and RFC 8601 §2.7.1 names that `fail`, as mailauth's strict mode does.
    if (result === 'neutral' && /body hash did not verify/.test(String(r.status?.comment ?? ''))) {
      result = 'fail';
      info = info.replace(/^dkim=neutral/, 'dkim=fail');
    }
    return { result, domain: String(r.signingDomain).toLowerCase(), selector: r.selector ?? null, aligned: Boolean(r.status?.aligned), info };
  });

  const dmarcRaw = result.dmarc as (false | { status?: LooseStatus & { header?: { from?: string } }; policy?: string; info?: string; record?: { pct?: number } });
  let dmarc: MailauthFacts['dmarc'] = { result: 'none', domain: null, policy: null, pct: 100, sampledOut: false, info: null };
  let authorProblem: MailauthFacts['authorProblem'] = null;
  if (dmarcRaw) {
    const pct = typeof dmarcRaw.record?.pct === 'number' ? Math.max(0, Math.min(100, dmarcRaw.record.pct)) : 100;
    let policy = (['none', 'quarantine', 'reject'].includes(String(dmarcRaw.policy)) ? dmarcRaw.policy : null) as DmarcPolicy | null;
    // RFC 7489 §6.6.4: a message not selected by pct gets the next less strict policy.
    // (RFC 9989 drops pct; mxward still honours it because the issue asks for it.)
    const sampledOut = policy !== null && pct < 100 && (input.sample ?? Math.random)() * 100 >= pct;
    if (sampledOut && policy) policy = DOWNGRADE[policy];
    dmarc = { result: asResult(dmarcRaw.status?.result), domain: dmarcRaw.status?.header?.from ?? null, policy, pct, sampledOut, info: dmarcRaw.info ?? null };
  } else {
    const reason = String((result as { dmarcSkipReason?: string }).dmarcSkipReason ?? '');
    authorProblem = reason.startsWith('multiple') ? 'multiple-domains' : 'no-from';
  }

  const arcRaw = result.arc as (false | { status?: LooseStatus; info?: string; authenticationResults?: Record<string, unknown>; chain?: LooseArcEntry[] });
  const arc = {
    result: asResult(arcRaw ? arcRaw.status?.result : 'none'),
    sealer: arcRaw ? arcSealer(arcRaw.chain) : null,
    recordedPass: arcRaw ? recordedPass(arcRaw.authenticationResults) : false,
    info: arcRaw ? arcRaw.info ?? null : null,
  };
  return { spf, spfHelo, dkim, dmarc, authorProblem, arc };
}
