// `mxward analyze`: one message's headers explained (issue 5). Pure over the parsed header
// fields, so the CLI, tests and the corpus check all call the same function.
import { compilePolicy } from '../policy/compile.ts';
import { defaultPolicy } from '../config/policy-schema.ts';
import type { AcceptedDomainSettings } from '../config/policy-schema.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { normalizeDomain } from '../policy/domains.ts';
import { Classifier, domainOfAddress } from './classify.ts';
import type { Classification } from './classify.ts';
import { decodeEncodedWords } from './encoded-words.ts';
import { headerFacts } from './header-facts.ts';
import type { HeaderFacts } from './header-facts.ts';
import type { HeaderField } from './import/header-block.ts';
import { rowFromHeaderFacts } from './import/mail-headers.ts';
import { LURE_SUBJECT } from './aggregate.ts';
import { FANOUT_RECIPIENTS } from './labels.ts';
import type { ReportRow } from './types.ts';

export interface MessageAnalysis {
  subject: string | null;
  messageId: string | null;
  p1: string | null;
  p2: string[];
  attribution: { value: string | null; from: string };
  acceptedDomains: string[];
  acceptedDomainsAssumed: boolean;
  classification: Classification;
  auth: { spf: string | null; smtpMailfrom: string | null; dkim: string | null; headerD: string | null; dmarc: string | null; headerFrom: string | null; compauth: string | null; compauthReason: string | null; compauthMeaning: string | null; arc: string | null };
  source: { ip: string | null; helo: string | null; ptr: string | null; country: string | null; scl: string | null; sfv: string | null; cat: string | null };
  hops: Array<{ from: string | null; fromIp: string | null; by: string | null; microsoft: boolean; entry: boolean; line: number }>;
  evidence: HeaderFacts['evidence'];
  /** Issue 18: Direct Send header signatures and where Microsoft's Authentication-Results disagree with Return-Path/From. */
  signatures: HeaderFacts['signatures'];
  /** Issue 12: what this one message says for and against its source being authorised. */
  signals: { for: string[]; against: string[] };
  conclusion: string;
}

/** SPEC §4 reason families, as Exchange Online uses them. */
export function compauthMeaning(reason: string | null): string | null {
  if (!reason || !/^\d{3}$/.test(reason)) return null;
  if (reason === '000') return 'explicit fail: DMARC failed and the domain publishes p=quarantine or p=reject';
  if (reason === '001') return 'implicit fail: no strong record and nothing passed';
  if (reason === '010') return 'explicit fail on one of the organization\'s own domains';
  if (reason === '130') return 'pass: DMARC failed but a trusted ARC sealer vouched';
  if (reason[0] === '1') return 'pass (DMARC pass or best-guess pass)';
  if (reason[0] === '2') return 'soft pass: unaligned SPF or DKIM pass';
  if (reason[0] === '3') return 'not checked';
  if (reason[0] === '4') return 'bypassed: internal or on-premises mail';
  if (reason[0] === '6') return 'implicit fail on an accepted domain: the Direct Send spoof signature';
  return null;
}

function conclude(c: Classification, facts: HeaderFacts, policy: CompiledPolicy): string {
  const ar = facts.authResults;
  const comp = ar?.compauth ? `compauth=${ar.compauth}${ar.compauthReason ? ` reason=${ar.compauthReason}` : ''}` : 'no compauth';
  const ip = facts.sourceIp ?? 'an unknown IP';
  const p2 = facts.from.map(domainOfAddress).find((d) => d && findOurs(policy, d));
  switch (c.kind) {
    case 'internal': return `Internal mail (${c.reason}); not Direct Send.`;
    case 'connector': return `Arrived through a connector (${c.reason}); Reject Direct Send does not apply.`;
    case 'direct-send':
      return ar?.compauth === 'fail'
        ? `Direct Send spoof: anonymous from ${ip} with our envelope domain and ${comp}; Reject Direct Send would have refused it (550 ${c.rejectCode}).`
        : `Direct Send from ${ip} (${comp}): Reject Direct Send would refuse it (550 ${c.rejectCode}); if this sender is legitimate, give it a connector first.`;
    case 'header-from':
      return `Header-From spoof of ${p2 ?? 'an accepted domain'} from ${ip} (${comp}): Exchange Online's Reject Direct Send does not check the From header; mxward's header-From check would catch it.`;
    default:
      return `Ordinary external mail from ${domainOfAddress(facts.returnPath) ?? ar?.smtpMailfrom ?? 'an unknown sender'} via ${ip} (${comp}); not Direct Send.`;
  }
}

/** The report's evidence rules (labels.ts) applied to one message. */
function signalsOf(row: ReportRow, facts: HeaderFacts, ours: (d: string | null) => boolean): MessageAnalysis['signals'] {
  const against: string[] = [];
  if (row.threats) against.push(`Microsoft's filter: ${row.threats} (X-Forefront-Antispam-Report)`);
  if (row.subject && LURE_SUBJECT.test(row.subject)) against.push(`lure subject: ${JSON.stringify(row.subject.slice(0, 80))}`);
  if (facts.helo && ours(facts.helo.toLowerCase()) && row.authAs !== 'internal') against.push(`HELO ${facts.helo} claims one of our domains`);
  if (row.recipients.length >= FANOUT_RECIPIENTS) against.push(`fan-out: ${row.recipients.length} recipients`);
  const forEvidence: string[] = [];
  const p2 = (row.p2 ?? []).map(domainOfAddress);
  if (row.dmarc === 'pass' && p2.length > 0 && p2.every((d) => ours(d))) forEvidence.push(`DMARC pass for ${p2.join(', ')}`);
  return { for: forEvidence, against };
}

function findOurs(policy: CompiledPolicy, d: string): boolean {
  return new Classifier(policy, 0).isAccepted(d);
}

/**
 * Analyses one message. Without accepted domains, the recipients' domains stand in for the
 * organization's (a message is Direct Send relative to the tenant that received it): said so.
 */
export function analyzeMessage(fields: HeaderField[], accepted: string[], file = '(message)'): MessageAnalysis {
  const facts = headerFacts(fields);
  let assumed = false;
  let domains = accepted.map((d) => normalizeDomain(d.replace(/^\*\./, ''))).filter((d): d is string => d !== null);
  if (domains.length === 0) {
    domains = [...new Set(facts.to.map(domainOfAddress).map((d) => (d ? normalizeDomain(d) : null)).filter((d): d is string => d !== null))];
    assumed = true;
  }
  const doc = defaultPolicy();
  doc.acceptedDomains = domains.map((domain): AcceptedDomainSettings => ({ domain, includeSubdomains: accepted.includes(`*.${domain}`), recipients: [] }));
  const policy = compilePolicy(doc, 0);
  const row = rowFromHeaderFacts(facts, file, 1);
  const classifier = new Classifier(policy, Date.now());
  const classification = classifier.classify(row);
  const signals = signalsOf(row, facts, (d) => classifier.isAccepted(d));
  const ar = facts.authResults;
  const as = facts.antispam;
  const entry = [...facts.hops].reverse().find((h) => h.microsoft && !(h.from && /outlook|office365|microsoft/i.test(h.from)));
  return {
    subject: facts.subject === null ? null : decodeEncodedWords(facts.subject),
    messageId: facts.messageId,
    // The P1 classified: Microsoft's smtp.mailfrom where the Return-Path disagrees (signatures say so).
    p1: row.p1,
    p2: facts.from,
    attribution: {
      value: facts.orgAuthAs ?? facts.crossTenantAuthAs,
      from: facts.orgAuthAs ? 'X-MS-Exchange-Organization-AuthAs' : facts.crossTenantAuthAs ? 'X-MS-Exchange-CrossTenant-AuthAs' : 'no AuthAs header',
    },
    acceptedDomains: domains,
    acceptedDomainsAssumed: assumed,
    classification,
    auth: {
      spf: ar?.spf ?? null, smtpMailfrom: ar?.smtpMailfrom ?? null, dkim: ar?.dkim ?? null, headerD: ar?.headerD ?? null,
      dmarc: ar?.dmarc ?? null, headerFrom: ar?.headerFrom ?? null, compauth: ar?.compauth ?? null,
      compauthReason: ar?.compauthReason ?? null, compauthMeaning: compauthMeaning(ar?.compauthReason ?? null), arc: ar?.arc ?? null,
    },
    source: {
      ip: facts.sourceIp, helo: facts.helo, ptr: facts.ptr, country: as?.get('CTRY') ?? null,
      scl: as?.get('SCL') ?? null, sfv: as?.get('SFV') ?? null, cat: as?.get('CAT') ?? null,
    },
    hops: [...facts.hops].reverse().map((h) => ({ ...h, entry: h === entry })),
    evidence: facts.evidence,
    signatures: facts.signatures,
    signals,
    conclusion: signals.against.length && classification.wouldReject && ar?.compauth !== 'fail'
      ? `Direct Send from ${facts.sourceIp ?? 'an unknown IP'} with evidence against it (${signals.against.join('; ')}): Reject Direct Send would refuse it (550 ${classification.rejectCode}); never give this source a connector.`
      : conclude(classification, facts, policy),
  };
}
