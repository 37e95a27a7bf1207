// The author of a message (RFC 5322 §3.6.2 From), read strictly. Pure. A From that mail readers
// could read differently (a stray `>`, two `@`, an unquoted display name that is another address,
// an encoded word where the address should be, a group, comments inside the address) has no
// single author, and the gateway refuses it rather than guess (SPEC §10, RFC 7489 §6.6.1).
import type { AuthorFacts } from '../domain/types.ts';
import { normalizeDomain } from './domains.ts';

export interface HeaderFacts {
  /** The From addresses as written (addr-spec), for the trace and the quarantine. */
  headerFrom: string[];
  author: AuthorFacts;
  messageId: string | null;
  subject: string | null;
}

type Token =
  | { kind: 'atom'; text: string; spaced: boolean }
  | { kind: 'quoted'; text: string; spaced: boolean }
  | { kind: 'literal'; text: string; spaced: boolean }
  | { kind: 'special'; text: string; spaced: boolean };

const SPECIALS = '()<>[]:;@\\,."';

/** Skips a (nested) comment starting at `at`; returns the index after it, or -1 if unterminated. */
export function skipComment(value: string, at: number): number {
  let depth = 0;
  for (let i = at; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') { i++; continue; }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * Reads a quoted-string or domain-literal body ending at `close`. Unterminated: null, or with
 * `partial` what it held up to the end of the value.
 */
export function readDelimited(value: string, at: number, close: string, partial = false): { text: string; next: number } | null {
  let text = '';
  for (let i = at + 1; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') { text += value[i + 1] ?? ''; i++; continue; }
    if (c === close) return { text, next: i + 1 };
    text += c;
  }
  return partial ? { text, next: value.length } : null;
}

/** Control characters have no place in an address field; their presence makes it unusable. */
function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

function tokenize(value: string): Token[] | null {
  if (hasControl(value)) return null;
  const tokens: Token[] = [];
  let spaced = false;
  let at = 0;
  while (at < value.length) {
    const c = value[at];
    if (c === ' ' || c === '\t') { spaced = true; at++; continue; }
    if (c === '(') {
      const next = skipComment(value, at);
      if (next < 0) return null;
      spaced = true;
      at = next;
      continue;
    }
    if (c === '"' || c === '[') {
      const read = readDelimited(value, at, c === '"' ? '"' : ']');
      if (!read) return null;
      tokens.push({ kind: c === '"' ? 'quoted' : 'literal', text: read.text, spaced });
      at = read.next;
    } else if (SPECIALS.includes(c)) {
      if (c === ')' || c === ']' || c === '\\') return null;
      tokens.push({ kind: 'special', text: c, spaced });
      at++;
    } else {
      let end = at;
      while (end < value.length && !SPECIALS.includes(value[end]) && value[end] !== ' ' && value[end] !== '\t') end++;
      tokens.push({ kind: 'atom', text: value.slice(at, end), spaced });
      at = end;
    }
    spaced = false;
  }
  return tokens;
}

interface Mailbox { localPart: string; domain: string; written: string }

/**
 * addr-spec with no whitespace or comment inside it: `local@domain`, where local is a dot-atom or a
 * quoted-string and domain a dot-atom. Domain literals name no domain DMARC could check.
 */
function parseAddrSpec(tokens: Token[]): Mailbox | null {
  const at = tokens.findIndex((t) => t.kind === 'special' && t.text === '@');
  if (at <= 0 || at === tokens.length - 1) return null;
  if (tokens.slice(1).some((t) => t.spaced)) return null;
  const local = tokens.slice(0, at);
  // A trailing dot on the domain (an absolute name) is ignored, as SPEC §1 compares domains.
  const last = tokens[tokens.length - 1];
  const domain = tokens.slice(at + 1, last.kind === 'special' && last.text === '.' ? -1 : undefined);
  const localOk = (local.length === 1 && local[0].kind === 'quoted') || isDotAtom(local);
  // RFC 2047 §5: an encoded word never stands in an address; mailparser decodes one anyway.
  if (tokens.some((t) => t.kind === 'atom' && t.text.includes('=?'))) return null;
  if (!localOk || !isDotAtom(domain)) return null;
  const localPart = local.length === 1 && local[0].kind === 'quoted' ? `"${local[0].text}"` : local.map((t) => t.text).join('');
  const domainText = domain.map((t) => t.text).join('');
  return { localPart, domain: domainText, written: `${localPart}@${domainText}` };
}

function isDotAtom(tokens: Token[]): boolean {
  if (tokens.length === 0 || tokens.length % 2 === 0) return false;
  return tokens.every((t, i) => (i % 2 === 0 ? t.kind === 'atom' : t.kind === 'special' && t.text === '.'));
}

function isPhrase(tokens: Token[]): boolean {
  return tokens.every((t) => t.kind === 'atom' || t.kind === 'quoted' || (t.kind === 'special' && t.text === '.'));
}

type MailboxResult = { ok: true; mailbox: Mailbox } | { ok: false };

/** One mailbox: `addr-spec` or `[phrase] <addr-spec>`. */
function parseMailbox(tokens: Token[]): MailboxResult {
  const open = tokens.findIndex((t) => t.kind === 'special' && t.text === '<');
  if (open < 0) {
    const spec = parseAddrSpec(tokens);
    return spec ? { ok: true, mailbox: spec } : { ok: false };
  }
  const close = tokens.length - 1;
  if (tokens[close].kind !== 'special' || tokens[close].text !== '>') return { ok: false };
  const spec = parseAddrSpec(tokens.slice(open + 1, close).map((t, i) => (i === 0 ? { ...t, spaced: false } : t)));
  if (!spec) return { ok: false };
  // An unquoted address as display name (`ceo@contoso.test <x@evil.test>`) is not a phrase: some
  // readers take it as the author, Python's email reads two addresses. Refused, even when both
  // name the same address.
  return isPhrase(tokens.slice(0, open)) ? { ok: true, mailbox: spec } : { ok: false };
}

/** Splits at top-level commas; a group (`name: …;`) is not a mailbox list and is refused. */
function parseMailboxList(value: string): Mailbox[] | null {
  const tokens = tokenize(value);
  if (!tokens || tokens.length === 0) return null;
  if (tokens.some((t) => t.kind === 'special' && (t.text === ':' || t.text === ';'))) return null;
  const mailboxes: Mailbox[] = [];
  let start = 0;
  for (let i = 0; i <= tokens.length; i++) {
    if (i < tokens.length && !(tokens[i].kind === 'special' && tokens[i].text === ',')) continue;
    const part = tokens.slice(start, i);
    if (part.length === 0) return null;
    const parsed = parseMailbox(part);
    if (!parsed.ok) return null;
    mailboxes.push(parsed.mailbox);
    start = i + 1;
  }
  return mailboxes;
}

/** What DNS can hold after the UTS-46 mapping: LDH labels (underscore allowed, as some hosts use). */
const HOST_NAME = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)+$/;

/**
 * Decides the author from the values of every From field (unfolded, UTF-8). Exactly one field
 * with exactly one usable mailbox is `single`; its domain is compared in A-label form after the
 * UTS-46 mapping (full-width letters, trailing dot), as SPEC §1 compares accepted domains.
 */
export function readAuthor(fromValues: string[]): { addresses: string[]; author: AuthorFacts } {
  if (fromValues.length === 0) return { addresses: [], author: { kind: 'none' } };
  const lists = fromValues.map(parseMailboxList);
  const addresses = lists.flatMap((l) => (l ?? []).map((m) => m.written));
  const domains = [...new Set(lists.flatMap((l) => (l ?? []).map((m) => normalizeDomain(m.domain)).filter((d): d is string => !!d)))];
  if (fromValues.length > 1) return { addresses, author: { kind: 'ambiguous', reason: 'several-fields', domains } };
  const list = lists[0];
  if (!list) return { addresses, author: { kind: 'ambiguous', reason: 'unusable-address', domains } };
  if (list.length > 1) return { addresses, author: { kind: 'ambiguous', reason: 'several-mailboxes', domains } };
  const domain = normalizeDomain(list[0].domain);
  if (!domain || !HOST_NAME.test(domain)) return { addresses, author: { kind: 'ambiguous', reason: 'unusable-address', domains } };
  return { addresses, author: { kind: 'single', address: `${list[0].localPart}@${domain}`, domain } };
}
