// Header signatures of Direct Send beyond AuthAs (issue 18), as evidence. Pure: header fields in,
// evidence out. Two sources:
// - X-MS-Exchange-Transport-EndToEndLatency, whose component list names Direct Send on messages
//   Exchange Online accepted through it (the published Direct Send write-ups cite it);
// - Microsoft's own Authentication-Results (the field carrying compauth, which only Exchange Online
//   stamps): its smtp.mailfrom and header.from are what Exchange Online judged. A Return-Path or
//   From that disagrees was rewritten after Microsoft (a sanitised export) or supplied by the
//   sender, so the report must read Microsoft's values and show the disagreement.
import type { HeaderField } from './import/header-block.ts';
import type { AuthResultsFacts } from './header-facts.ts';
import type { Evidence } from './types.ts';

const LATENCY_FIELD = 'x-ms-exchange-transport-endtoendlatency';
const DIRECT_SEND_MENTION = /direct[\s_-]*send/i;

export const SIGNATURE_FACTS = {
  latency: 'Direct Send signature (transport latency)',
  p1Disagrees: 'P1 disagreement',
  p2Disagrees: 'P2 disagreement',
} as const;

/** The latency field's value, when it names Direct Send; at most the first 200 characters shown. */
export function latencySignature(fields: readonly HeaderField[]): Evidence | null {
  const field = fields.find((f) => f.name === LATENCY_FIELD && DIRECT_SEND_MENTION.test(f.value));
  if (!field) return null;
  return { fact: SIGNATURE_FACTS.latency, from: `header X-MS-Exchange-Transport-EndToEndLatency (line ${field.line})`, value: field.value.slice(0, 200) };
}

/** Exchange Online's Authentication-Results: the top-most field that carries compauth. */
export function microsoftAuthResultsField(fields: readonly HeaderField[]): HeaderField | null {
  return fields.find((f) => f.name === 'authentication-results' && /(?:^|[\s;])compauth\s*=/i.test(f.value)) ?? null;
}

/** The domain of an address or a bare domain (Microsoft writes smtp.mailfrom both ways). */
export function identityDomain(value: string | null): string | null {
  if (!value) return null;
  const v = value.trim().replace(/^<|>$/g, '').replace(/\.$/, '').toLowerCase();
  const at = v.lastIndexOf('@');
  const d = at >= 0 ? v.slice(at + 1) : v;
  return d && !/[\s<>"]/.test(d) ? d : null;
}

export interface IdentityCrossCheck {
  /** Microsoft's P1 domain when the Return-Path disagrees with it, else null. */
  p1Microsoft: string | null;
  /** Microsoft's header.from domain when no From address is in it, else null. */
  p2Microsoft: string | null;
  evidence: Evidence[];
}

/**
 * Microsoft's smtp.mailfrom against Return-Path (P1) and header.from against From (P2). Only a
 * disagreement is evidence: a missing value on either side says nothing.
 */
export function crossCheckIdentities(field: HeaderField | null, ms: AuthResultsFacts | null, returnPath: string | null, from: readonly string[]): IdentityCrossCheck {
  const out: IdentityCrossCheck = { p1Microsoft: null, p2Microsoft: null, evidence: [] };
  if (!field || !ms) return out;
  const where = `header Authentication-Results (line ${field.line}) against`;
  const p1Ms = identityDomain(ms.smtpMailfrom);
  const p1Header = identityDomain(returnPath);
  if (p1Ms && p1Header && p1Ms !== p1Header) {
    out.p1Microsoft = p1Ms;
    out.evidence.push({ fact: SIGNATURE_FACTS.p1Disagrees, from: `${where} Return-Path`, value: `Microsoft saw smtp.mailfrom=${p1Ms}, Return-Path says ${returnPath}` });
  }
  const p2Ms = identityDomain(ms.headerFrom);
  const p2Header = from.map(identityDomain).filter((d): d is string => d !== null);
  if (p2Ms && p2Header.length > 0 && !p2Header.includes(p2Ms)) {
    out.p2Microsoft = p2Ms;
    out.evidence.push({ fact: SIGNATURE_FACTS.p2Disagrees, from: `${where} From`, value: `Microsoft saw header.from=${p2Ms}, From says ${from.join(', ')}` });
  }
  return out;
}
