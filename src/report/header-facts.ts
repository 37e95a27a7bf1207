// What Microsoft's stamped headers say about one message (SPEC §8 last bullet). Pure: shared by
// the .eml/.mbox importer and by `mxward analyze`. Every fact keeps the header it came from.
import type { HeaderField } from './import/header-block.ts';
import type { AuthAs, Direction, Evidence } from './types.ts';
import { crossCheckIdentities, latencySignature, microsoftAuthResultsField } from './direct-send-signatures.ts';

export interface AuthResultsFacts {
  spf: string | null;
  smtpMailfrom: string | null;
  dkim: string | null;
  headerD: string | null;
  dmarc: string | null;
  dmarcAction: string | null;
  headerFrom: string | null;
  compauth: string | null;
  compauthReason: string | null;
  arc: string | null;
  senderIp: string | null;
}

export interface ReceivedHop {
  from: string | null;
  fromIp: string | null;
  by: string | null;
  microsoft: boolean;
  line: number;
}

export interface HeaderFacts {
  orgAuthAs: string | null;
  crossTenantAuthAs: string | null;
  authAs: AuthAs | null;
  authResults: AuthResultsFacts | null;
  returnPath: string | null;
  from: string[];
  to: string[];
  subject: string | null;
  messageId: string | null;
  dateMs: number | null;
  antispam: Map<string, string> | null;
  sourceIp: string | null;
  helo: string | null;
  ptr: string | null;
  direction: Direction | null;
  hasArcSeal: boolean;
  hops: ReceivedHop[];
  evidence: Evidence[];
  /** Issue 18: Direct Send header signatures and Microsoft-vs-header identity disagreements (also in evidence). */
  signatures: Evidence[];
  /** Microsoft's smtp.mailfrom domain when the Return-Path disagrees with it: the P1 Exchange Online judged. */
  p1Microsoft: string | null;
  /** Microsoft's header.from domain when the From field names another domain. */
  p2Microsoft: string | null;
}

/** `spf=pass (…) smtp.mailfrom=x; dkim=…` -> method/property map; comments dropped. */
export function parseAuthenticationResults(value: string): AuthResultsFacts {
  const text = stripComments(value);
  const out: AuthResultsFacts = {
    spf: null, smtpMailfrom: null, dkim: null, headerD: null, dmarc: null, dmarcAction: null,
    headerFrom: null, compauth: null, compauthReason: null, arc: null, senderIp: null,
  };
  const ip = /sender IP is ([0-9a-fA-F.:]+)/.exec(value);
  if (ip) out.senderIp = ip[1];
  // `reason=` and `action=` belong to the method before them (compauth, dmarc), not to dkim's.
  let method = '';
  for (const [rawKey, rawValue] of keyValuePairs(text)) {
    const key = rawKey.toLowerCase();
    const val = rawValue.replace(/^"|"$/g, '');
    if (!key.includes('.') && key !== 'reason' && key !== 'action') method = key;
    if ((key === 'reason' && method !== 'compauth') || (key === 'action' && method !== 'dmarc')) continue;
    switch (key) {
      case 'spf': out.spf ??= val.toLowerCase(); break;
      case 'smtp.mailfrom': out.smtpMailfrom ??= val; break;
      case 'dkim': out.dkim ??= val.toLowerCase(); break;
      case 'header.d': out.headerD ??= val; break;
      case 'dmarc': out.dmarc ??= val.toLowerCase(); break;
      case 'action': out.dmarcAction ??= val.toLowerCase(); break;
      case 'header.from': out.headerFrom ??= val; break;
      case 'compauth': out.compauth ??= val.toLowerCase(); break;
      case 'reason': out.compauthReason ??= val; break;
      case 'arc': out.arc ??= val.toLowerCase(); break;
    }
  }
  return out;
}

const isWordChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isSpaceOrSemicolon = (ch: string): boolean => ch === ';' || ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || (ch.charCodeAt(0) > 127 && /\s/.test(ch)) || ch === '\f' || ch === '\v';

/**
 * `key=value` pairs of an Authentication-Results value, in one pass (issue 12). The same pairs
 * as the pattern /([A-Za-z][\w.-]*)=("[^"]*"|[^\s;]*)/g found, without its quadratic time on a
 * long run of word characters with no `=` (the pattern retried from every character of it): a
 * run is scanned once, and the key is the run from its first letter when `=` follows.
 */
export function* keyValuePairs(text: string): Generator<[string, string]> {
  const n = text.length;
  // Past this index no `"` is left: an unterminated quote is looked for once, not per value.
  let noQuoteAfter = n;
  let i = 0;
  while (i < n) {
    if (!isWordChar(text.charCodeAt(i))) { i++; continue; }
    let end = i;
    while (end < n && isWordChar(text.charCodeAt(end))) end++;
    let keyStart = i;
    while (keyStart < end && !isLetter(text.charCodeAt(keyStart))) keyStart++;
    if (end >= n || text.charCodeAt(end) !== 61 || keyStart === end) { i = end; continue; }
    const from = end + 1;
    let to = from;
    if (text.charCodeAt(from) === 34 && from + 1 < noQuoteAfter) {
      const close = text.indexOf('"', from + 1);
      if (close >= 0) to = close + 1;
      else noQuoteAfter = from;
    }
    if (to === from) while (to < n && !isSpaceOrSemicolon(text[to])) to++;
    yield [text.slice(keyStart, end), text.slice(from, to)];
    i = to;
  }
}

/**
 * Quoted strings replaced by a space, in one pass (issue 12). The pattern
 * /"(?:[^"\\]|\\.)*"/g it replaces scanned to the end of the input from every `"` of an
 * unterminated run: once one quote finds no partner, no later quote can (the escapes pair up the
 * same way from there), so the rest is copied as it is.
 */
export function blankQuotedStrings(text: string): string {
  let out = '';
  let copiedTo = 0;
  let i = text.indexOf('"');
  while (i >= 0) {
    let j = i + 1;
    while (j < text.length && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
    if (j >= text.length) break;
    out += `${text.slice(copiedTo, i)} `;
    copiedTo = j + 1;
    i = text.indexOf('"', copiedTo);
  }
  return out + text.slice(copiedTo);
}

/**
 * Several Authentication-Results fields (one per method, or one per relay that checked): the
 * top-most statement of each method wins, since the top-most field was added by the server
 * closest to us (RFC 8601 §1.1, headers are prepended).
 */
export function mergeAuthResults(list: AuthResultsFacts[]): AuthResultsFacts {
  const out = { ...list[0] };
  for (const next of list.slice(1)) {
    for (const key of Object.keys(out) as Array<keyof AuthResultsFacts>) out[key] ??= next[key];
  }
  return out;
}

/** RFC 5322 comments, nested, outside quoted strings. */
function stripComments(value: string): string {
  let depth = 0;
  let quoted = false;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) { if (depth === 0) out += c + value[i + 1]; i++; continue; }
    if (c === '"' && depth === 0) quoted = !quoted;
    if (!quoted && c === '(') { depth++; continue; }
    if (!quoted && c === ')' && depth > 0) { depth--; out += ' '; continue; }
    if (depth === 0) out += c;
  }
  return out;
}

/** Addresses of an address-list header: angle-addr when present, else bare addr-spec tokens. */
export function extractAddresses(value: string): string[] {
  const text = blankQuotedStrings(stripComments(value));
  const angled = [...text.matchAll(/<([^<>]*)>/g)].map((m) => m[1].trim()).filter((a) => a.includes('@'));
  if (angled.length) return angled;
  return text.split(/[,;\s]+/).map((t) => t.trim()).filter((t) => /^[^@\s]+@[^@\s]+$/.test(t));
}

/** `CIP:1.2.3.4;CTRY:US;…;H:helo;PTR:host;…` -> map of upper-cased keys. */
export function parseAntispamReport(value: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of value.split(';')) {
    const colon = part.indexOf(':');
    if (colon <= 0) continue;
    map.set(part.slice(0, colon).trim().toUpperCase(), part.slice(colon + 1).trim());
  }
  return map;
}

const MICROSOFT_HOST = /(?:\.outlook\.com|\.office365\.com|\.outlook\.office365\.com|\.microsoft\.com|\.hotmail\.com|\.msn\.com|\.live\.com|\.exchangelabs\.com)\.?$/i;

export function parseReceived(value: string, line: number): ReceivedHop {
  const from = /\bfrom\s+([^\s;()]+)/i.exec(value);
  const fromIp = /\bfrom\s+[^\s;()]+\s*\(([^)]*)\)/i.exec(value);
  const by = /\bby\s+([^\s;()]+)/i.exec(value);
  const ipMatch = fromIp ? /\[?([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)\]?/.exec(fromIp[1]) : null;
  const byHost = by ? by[1] : null;
  return {
    from: from ? from[1] : null,
    fromIp: ipMatch ? ipMatch[1] : null,
    by: byHost,
    microsoft: byHost !== null && MICROSOFT_HOST.test(byHost),
    line,
  };
}

export function isMicrosoftHost(host: string | null): boolean {
  return host !== null && MICROSOFT_HOST.test(host);
}

function authAsFrom(value: string | null): AuthAs | null {
  const v = value?.trim().toLowerCase();
  if (v === 'anonymous') return 'anonymous';
  if (v === 'internal') return 'internal';
  if (v === 'partner') return 'partner';
  return null;
}

function first(fields: HeaderField[], name: string): HeaderField | null {
  return fields.find((f) => f.name === name) ?? null;
}

/** The hop where mail entered Microsoft: the lowest Received whose `by` is Microsoft and `from` is not. */
function entryHop(hops: ReceivedHop[]): ReceivedHop | null {
  for (let i = hops.length - 1; i >= 0; i--) {
    const h = hops[i];
    if (h.microsoft && !isMicrosoftHost(h.from)) return h;
  }
  return null;
}

export function headerFacts(fields: HeaderField[]): HeaderFacts {
  const evidence: Evidence[] = [];
  const note = (fact: string, field: HeaderField | null, value: string | null): void => {
    if (field && value !== null && value !== '') evidence.push({ fact, from: `header ${field.name} (line ${field.line})`, value });
  };
  const orgField = first(fields, 'x-ms-exchange-organization-authas');
  const ctField = first(fields, 'x-ms-exchange-crosstenant-authas');
  const arField = first(fields, 'authentication-results');
  const rpField = first(fields, 'return-path');
  const fromField = first(fields, 'from');
  const asField = first(fields, 'x-forefront-antispam-report');
  const dirField = first(fields, 'x-ms-exchange-organization-messagedirectionality');
  const arFields = fields.filter((f) => f.name === 'authentication-results');
  const authResults = arFields.length ? mergeAuthResults(arFields.map((f) => parseAuthenticationResults(f.value))) : null;
  const antispam = asField ? parseAntispamReport(asField.value) : null;
  const hops = fields.filter((f) => f.name === 'received').map((f) => parseReceived(f.value, f.line));
  const entry = entryHop(hops);
  const orgAuthAs = orgField?.value.trim() ?? null;
  const crossTenantAuthAs = ctField?.value.trim() ?? null;
  const authAs = authAsFrom(orgAuthAs) ?? authAsFrom(crossTenantAuthAs);
  note('attribution', orgField ?? ctField, orgAuthAs ?? crossTenantAuthAs);
  const returnPath = rpField ? (extractAddresses(rpField.value)[0] ?? (rpField.value.trim() === '<>' ? '' : rpField.value.trim())) : null;
  note('p1', rpField, returnPath);
  const from = fromField ? extractAddresses(fromField.value) : [];
  note('p2', fromField, from.join(', '));
  if (authResults) note('authentication results', arField, `spf=${authResults.spf} dkim=${authResults.dkim} dmarc=${authResults.dmarc} compauth=${authResults.compauth} reason=${authResults.compauthReason}`);
  const msField = microsoftAuthResultsField(fields);
  const crossCheck = crossCheckIdentities(msField, msField ? parseAuthenticationResults(msField.value) : null, returnPath, from);
  const latency = latencySignature(fields);
  const signatures = latency ? [latency, ...crossCheck.evidence] : crossCheck.evidence;
  evidence.push(...signatures);
  const sourceIp = antispam?.get('CIP') || first(fields, 'x-sender-ip')?.value.trim() || authResults?.senderIp || entry?.fromIp || null;
  note('source IP', antispam?.get('CIP') ? asField : first(fields, 'x-sender-ip') ?? (authResults?.senderIp ? arField : null), sourceIp);
  const helo = antispam?.get('H') || entry?.from || null;
  note('HELO', antispam?.get('H') ? asField : null, helo);
  const ptr = antispam?.get('PTR') || null;
  const dirValue = dirField?.value.trim().toLowerCase() ?? antispam?.get('DIR')?.toLowerCase() ?? null;
  const direction: Direction | null = dirValue === 'incoming' || dirValue === 'inb' ? 'inbound'
    : dirValue === 'originating' || dirValue === 'out' ? 'outbound' : dirValue === 'int' ? 'intra-org' : null;
  const dateField = first(fields, 'date');
  const dateMs = dateField ? Date.parse(dateField.value.replace(/\s*\([^)]*\)\s*$/, '')) : NaN;
  return {
    orgAuthAs, crossTenantAuthAs, authAs, authResults, returnPath, from,
    to: fields.filter((f) => f.name === 'to' || f.name === 'cc').flatMap((f) => extractAddresses(f.value)),
    subject: first(fields, 'subject')?.value ?? null,
    messageId: first(fields, 'message-id')?.value.trim() ?? null,
    dateMs: Number.isNaN(dateMs) ? null : dateMs,
    antispam, sourceIp, helo, ptr, direction,
    hasArcSeal: fields.some((f) => f.name === 'arc-seal'),
    hops, evidence, signatures, p1Microsoft: crossCheck.p1Microsoft, p2Microsoft: crossCheck.p2Microsoft,
  };
}
