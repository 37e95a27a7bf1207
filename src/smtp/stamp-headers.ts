// Headers mxward adds (SPEC §5). Built as text here, prepended at delivery time.
import type { Attribution, ConnectionFacts, DirectSendKind, VerdictAction } from '../domain/types.ts';
import { parseIp } from '../policy/compile.ts';
import { parseAddressStrict } from '../policy/ip-syntax.ts';

export interface StampInput {
  hostname: string;
  queueId: string;
  facts: ConnectionFacts;
  recipients: string[];
  attribution: Attribution;
  connector: string | null;
  directSend: DirectSendKind | null;
  wouldReject: boolean;
  verdict: VerdictAction;
  scl: number | null;
  /** Complete `Authentication-Results:` value, when authentication ran. */
  authenticationResults: string | null;
  now: Date;
}

const AUTH_AS: Record<Attribution, string> = { internal: 'Internal', partner: 'Partner', anonymous: 'Anonymous' };

/** Header values come partly from the client (HELO); keep them on one line and printable. */
function clean(value: string): string {
  return value.replace(/[\r\n\t\x00-\x1f\x7f]+/g, ' ').slice(0, 200);
}

/** RFC 5321 §4.1.2 `Domain`: dot-separated LDH labels (no underscore, no trailing dot). */
function isDomain(text: string): boolean {
  return text.length > 0 && text.length <= 255 && text.split('.').every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

/** RFC 5321 §4.1.3 address literal of an IP, or null: `[192.0.2.1]`, `[IPv6:2001:db8::1]`. */
function addressLiteral(ip: string): string | null {
  const parsed = parseIp(ip);
  if (!parsed) return null;
  return parsed.kind() === 'ipv4' ? `[${parsed.toString()}]` : `[IPv6:${parsed.toString()}]`;
}

/** A HELO argument that is itself a well-formed address literal, re-written from its parsed form. */
function heloLiteral(helo: string): string | null {
  const m = /^\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]$/.exec(helo);
  if (!m) return null;
  const v6 = helo.startsWith('[IPv6:');
  const parsed = parseAddressStrict(m[1]);
  if (!parsed.ok || (parsed.address.kind() === 'ipv6') !== v6) return null;
  return addressLiteral(m[1]);
}

const COMMENT_MAX_CHARS = 200;

/**
 * Text placed inside an RFC 5322 §3.2.2 comment: `(`, `)` and `\` become quoted-pairs, anything
 * that is not printable ASCII (CR, LF, NUL, 8-bit) becomes `?`, and it is cut to a bounded length,
 * so a client value can neither end the comment nor the field, nor start another field.
 */
export function commentText(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  const cut = printable.length > COMMENT_MAX_CHARS ? `${printable.slice(0, COMMENT_MAX_CHARS)}...` : printable;
  return cut.replace(/[()\\]/g, (c) => `\\${c}`);
}

const ATEXT_DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]+)*$/;

/**
 * `<Mailbox>` for the optional `for` clause (RFC 5321 §4.4), or null when the address cannot be
 * written there as printable ASCII: the local part as a dot-atom, else as a quoted-string.
 */
export function forMailbox(address: string): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0) return null;
  let local = address.slice(0, at);
  const domain = address.slice(at + 1);
  const literal = heloLiteral(domain);
  if (!isDomain(domain) && literal === null) return null;
  if (/^".*"$/s.test(local)) local = local.slice(1, -1).replace(/\\(.)/gs, '$1');
  if (!/^[\x20-\x7e]+$/.test(local)) return null;
  const rendered = ATEXT_DOT_ATOM.test(local) ? local : `"${local.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return `<${rendered}@${literal ?? domain}>`;
}

/**
 * RFC 5321 §4.4 `From-domain`: the HELO when it is a Domain or an address literal, followed by
 * TCP-info `(ptr [ip])`; otherwise the client's own address literal, with the HELO after it as a
 * comment. The PTR name only appears when it is a Domain.
 */
function fromClause(f: ConnectionFacts): string {
  const ipLiteral = addressLiteral(f.remoteIp) ?? '[unknown]';
  const ptr = f.ptr && isDomain(f.ptr.replace(/\.$/, '')) ? `${f.ptr.replace(/\.$/, '')} ` : '';
  const tcpInfo = `(${ptr}${ipLiteral})`;
  const helo = f.helo ?? '';
  if (isDomain(helo)) return `${helo} ${tcpInfo}`;
  const literal = heloLiteral(helo);
  if (literal) return `${literal} ${tcpInfo}`;
  return `${ipLiteral} ${tcpInfo}\r\n\t(HELO ${f.helo === null ? 'not given' : commentText(helo)})`;
}

/** RFC 5321 §4.4 trace field, with the RFC 3848 protocol keyword. Built from checked parts only. */
export function receivedHeader(input: StampInput): string {
  const f = input.facts;
  const protocol = `ESMTP${f.tls ? 'S' : ''}${f.authUser ? 'A' : ''}`;
  // The host name comes from the bootstrap file; a value that is not a Domain is not written.
  const by = isDomain(input.hostname) ? input.hostname : 'localhost';
  const id = /^[A-Za-z0-9._-]+$/.test(input.queueId) ? input.queueId : commentText(input.queueId).replace(/[^A-Za-z0-9._-]/g, '_');
  const tls = f.tls ? `\r\n\t(using ${commentText(f.tls.version)} with cipher ${commentText(f.tls.cipher)})` : '';
  const mailbox = input.recipients.length === 1 ? forMailbox(input.recipients[0]) : null;
  const forClause = mailbox ? `\r\n\tfor ${mailbox}` : '';
  const date = input.now.toUTCString().replace('GMT', '+0000');
  return `Received: from ${fromClause(f)}\r\n\tby ${by} (mxward) with ${protocol} id ${id}${tls}${forClause};\r\n\t${date}\r\n`;
}

export function stampHeaders(input: StampInput): string {
  const lines: string[] = [];
  if (input.authenticationResults) lines.push(`Authentication-Results: ${input.authenticationResults}\r\n`);
  lines.push(`X-Mxward-AuthAs: ${AUTH_AS[input.attribution]}\r\n`);
  if (input.connector) lines.push(`X-Mxward-Connector: ${clean(input.connector)}\r\n`);
  if (input.directSend) lines.push(`X-Mxward-DirectSend: ${input.directSend}${input.wouldReject ? ';would-reject' : ''}\r\n`);
  lines.push(`X-Mxward-Verdict: ${input.verdict}\r\n`);
  if (input.scl !== null) lines.push(`X-Mxward-SCL: ${input.scl}\r\n`);
  return receivedHeader(input) + lines.join('');
}
