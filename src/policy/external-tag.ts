// External sender identification (issue 18): "add MailTips to all emails that come from outside
// of your company", the self-hosted counterpart of Exchange Online's Set-ExternalInOutlook. Pure:
// which tag a message gets, and the Subject field with the prefix. Only anonymous mail is tagged:
// internal, on-premises, authenticated and connector-attributed (partner) mail never is.
import type { Attribution } from '../domain/types.ts';

export type ExternalTagging = 'off' | 'header' | 'subject';

export interface ExternalTagPlan {
  /** Stamp X-Mxward-External (both modes: mail rules and clients can key on it). */
  header: true;
  /** The Subject prefix to add, in subject mode. */
  subjectPrefix: string | null;
}

export function planExternalTag(mode: ExternalTagging, attribution: Attribution, prefix: string): ExternalTagPlan | null {
  if (mode === 'off' || attribution !== 'anonymous') return null;
  return { header: true, subjectPrefix: mode === 'subject' ? prefix : null };
}

/** The X-Mxward-External field mxward stamps (inbound copies are stripped with every X-Mxward-*). */
export const EXTERNAL_HEADER = 'X-Mxward-External: yes\r\n';

/**
 * The Subject field (raw, as canonicalised: `Subject:value\r\n`, maybe folded) with the prefix
 * after the colon and its whitespace; null when the prefix is already in it anywhere (a reply
 * "Re: [EXTERNAL] …" keeps one tag, never two). Case-insensitive, over the unfolded value.
 */
export function prefixSubjectField(raw: string, prefix: string): string | null {
  const colon = raw.indexOf(':');
  if (colon < 0) return null;
  const value = raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '');
  // Mail clients encode a whole non-ASCII Subject (`=?utf-8?Q?RE:_[EXTERNAL]_Gr=C3=BC=C3=9Fe?=`):
  // the prefix is looked for in the decoded text too.
  if (value.toLowerCase().includes(prefix.toLowerCase()) || decodeEncodedWords(value).toLowerCase().includes(prefix.toLowerCase())) return null;
  const lead = /^[ \t]*/.exec(raw.slice(colon + 1))![0];
  const rest = raw.slice(colon + 1 + lead.length);
  // An empty Subject becomes just the prefix; otherwise one space separates it from the text
  // (RFC 2047 §5: an encoded-word must be separated from adjacent text by white space).
  const body = rest === '\r\n' ? '\r\n' : ` ${rest}`;
  return `${raw.slice(0, colon + 1)} ${prefix}${body}`;
}

/**
 * The header section with the one Subject field prefixed, or null when nothing changes (already
 * tagged). Without a Subject field one is added at the end, so every external message shows it.
 */
export function tagHeaderSection(fields: ReadonlyArray<{ name: string; raw: string }>, prefix: string): string | null {
  const index = fields.findIndex((f) => f.name === 'subject');
  if (index < 0) return `${fields.map((f) => f.raw).join('')}Subject: ${prefix}\r\n`;
  const tagged = prefixSubjectField(fields[index].raw, prefix);
  if (tagged === null) return null;
  return fields.map((f, i) => (i === index ? tagged : f.raw)).join('');
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * RFC 2047 encoded-words decoded for comparison only (the field itself is never re-encoded), the
 * white space between adjacent encoded-words dropped (§6.2). An unknown charset or a broken word
 * stays as written.
 */
export function decodeEncodedWords(value: string): string {
  return value.replace(/(\?=)[ \t]+(?==\?)/g, '$1').replace(ENCODED_WORD, (word, charset: string, encoding: string, text: string) => {
    try {
      const bytes = encoding.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      return new TextDecoder(charset.replace(/\*.*$/, '')).decode(bytes);
    } catch {
      return word;
    }
  });
}
