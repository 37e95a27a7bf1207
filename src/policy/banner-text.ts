// The external-sender banner (issue 18, `externalTagging: banner`): its wording, how it is found
// again in a reply, where it goes in an HTML part, and in which charsets it can be written. Pure:
// the MIME reading and writing is in smtp/banner-*.ts.
//
// The banner is plain ASCII on purpose: in every charset that keeps ASCII as ASCII (UTF-8, the
// ISO-8859 and windows-125x families, Shift_JIS, EUC-*, GBK, Big5, ISO-2022-JP in its initial
// state) those bytes are the banner in the part's own charset, so nothing is transcoded and no
// byte of the sender's text changes. A part in any other charset (UTF-16, UTF-7, unknown) is left
// alone.
import type { BannerKind } from './external-tag.ts';

/** What a reader sees first; the phrase after the label is the marker found again in a reply. */
const WORDING: Record<BannerKind, { label: string; phrase: string; advice: string }> = {
  external: {
    label: 'CAUTION:',
    phrase: 'This message came from outside your organization.',
    advice: 'Be careful with links, attachments and requests for payment or sign-in details.',
  },
  impersonation: {
    label: 'WARNING:',
    phrase: 'This message claims to be from your organization but was not sent by it.',
    advice: 'Do not trust its links, attachments or requests.',
  },
};

/** Both markers, lower-cased, whitespace collapsed: either one means "already tagged". */
const MARKERS = Object.values(WORDING).map((w) => w.phrase.toLowerCase());
/** The class of the HTML banner; a reply that keeps the element keeps the class. */
export const BANNER_CLASS = 'mxward-external-banner';

/** The text/plain banner: short lines, CRLF, an empty line before the sender's text. */
export function plainBanner(kind: BannerKind): string {
  const w = WORDING[kind];
  return `${wrapWords(`${w.label} ${w.phrase} ${w.advice}`, 72).join('\r\n')}\r\n\r\n`;
}

const HTML_STYLE: Record<BannerKind, string> = {
  external: 'border:1px solid #b58900;background:#fff8d6;color:#222;padding:6px 10px;margin:0 0 12px 0;font:13px/1.4 Arial,sans-serif',
  impersonation: 'border:2px solid #b00020;background:#fde7e9;color:#222;padding:6px 10px;margin:0 0 12px 0;font:13px/1.4 Arial,sans-serif',
};

/** The text/html banner: one element, inline styles only (mail clients drop style sheets). */
export function htmlBanner(kind: BannerKind): string {
  const w = WORDING[kind];
  return `<div class="${BANNER_CLASS}" style="${HTML_STYLE[kind]}"><strong>${w.label}</strong> ${w.phrase} ${w.advice}</div>\r\n`;
}

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const PROBE = Buffer.from(Array.from({ length: 95 }, (_, i) => 0x20 + i).concat([0x09, 0x0d, 0x0a]));

/**
 * True when the charset reads printable ASCII, tab, CR and LF as themselves (the WHATWG decoder
 * is the judge): then the ASCII banner is already written in that charset. No charset means
 * US-ASCII (RFC 2045 §5.2).
 */
export function charsetKeepsAscii(charset: string | null): boolean {
  if (!charset) return true;
  try {
    return new TextDecoder(charset.trim()).decode(PROBE) === PROBE.toString('latin1');
  } catch {
    return false;
  }
}

/**
 * Finds the banner markers and PGP armour in decoded text fed in pieces, as a reader would see it
 * after quoting: line breaks with their `>` quote marks and runs of white space count as one
 * space, HTML tags and `&nbsp;` as nothing and a space. A window of the previous piece is kept so
 * a marker split between pieces is still found.
 */
export class BannerMarkerScanner {
  #carry = '';
  markerFound = false;
  pgpFound = false;
  readonly #html: boolean;
  constructor(html: boolean) {
    this.#html = html;
  }
  push(bytes: Buffer): void {
    if (this.markerFound && this.pgpFound) return;
    const window = this.#carry + bytes.toString('latin1');
    // RFC 4880 §6.2 armour header lines, at a line start (inline PGP, signed or encrypted).
    if (/(^|\n)[ \t>]*-----BEGIN PGP (SIGNED )?MESSAGE-----/.test(window)) this.pgpFound = true;
    if (this.#html && window.includes(BANNER_CLASS)) this.markerFound = true;
    let text = this.#html ? window.replace(/<[^>]*>/g, '').replace(/&nbsp;|&#160;/gi, ' ') : window;
    text = text.replace(/(?:\r?\n[ \t>]*)+/g, ' ').replace(/[ \t]+/g, ' ').toLowerCase();
    if (MARKERS.some((m) => text.includes(m))) this.markerFound = true;
    this.#carry = window.slice(-CARRY_CHARS);
  }
}

const CARRY_CHARS = 1024;

/**
 * Where the HTML banner goes, as a byte offset into the decoded part (the caller passes its first
 * HTML_SEARCH_BYTES): just after the opening `<body …>` tag, else after `</head>` or `<html …>`,
 * else at the very start. In ISO-2022 charsets a match counts only in the ASCII state, so the
 * banner never lands inside a shifted run of two-byte characters.
 */
export function htmlInsertOffset(decoded: Buffer): number {
  const text = asciiStateText(decoded);
  for (const pattern of [/<body\b[^>]*>/i, /<\/head\s*>/i, /<html\b[^>]*>/i]) {
    const match = pattern.exec(text);
    if (match) return match.index + match[0].length;
  }
  return 0;
}

/** The bytes as latin1 text, with every byte outside an ISO-2022 ASCII run replaced by NUL. */
function asciiStateText(bytes: Buffer): string {
  if (!bytes.includes(0x1b)) return bytes.toString('latin1');
  const out = Buffer.from(bytes);
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x1b) {
      // ESC ( B and ESC ( J return to ASCII / JIS-Roman; ESC $ … designates a two-byte set.
      ascii = bytes[i + 1] === 0x28 && (bytes[i + 2] === 0x42 || bytes[i + 2] === 0x4a);
      out[i] = 0;
    } else if (!ascii) out[i] = 0;
  }
  return out.toString('latin1');
}

/** The part of an HTML body searched for the insertion point. */
export const HTML_SEARCH_BYTES = 64 * 1024;

/**
 * ASCII text as quoted-printable (RFC 2045 §6.7): `=` escaped, lines of at most 76 characters
 * with soft breaks, the text's own CRLFs kept as hard breaks. White space before a hard break is
 * escaped, so no transport can strip it.
 */
export function encodeQuotedPrintableAscii(text: string): string {
  return text.split('\r\n').map((line, i, all) => {
    let escaped = line.replace(/=/g, '=3D');
    if (i < all.length - 1 || line.length > 0) escaped = escaped.replace(/[ \t]$/, (c) => (c === ' ' ? '=20' : '=09'));
    const pieces: string[] = [];
    while (escaped.length > 76) {
      let cut = 75;
      // Never split an =XX escape.
      const eq = escaped.lastIndexOf('=', cut - 1);
      if (eq >= cut - 2) cut = eq;
      pieces.push(`${escaped.slice(0, cut)}=`);
      escaped = escaped.slice(cut);
    }
    pieces.push(escaped);
    return pieces.join('\r\n');
  }).join('\r\n');
}
