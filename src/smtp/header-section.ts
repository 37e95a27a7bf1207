// The header section of a message (RFC 5322 §2.2): split into fields, sanitised, and mined for
// the facts the decision needs. Only the header section is ever held in memory; the body streams.
import addressparser from 'nodemailer/lib/addressparser';
import type { AuthorFacts } from '../domain/types.ts';
import { parseAddress } from '../policy/domains.ts';

export interface HeaderField {
  /** Lower-cased field name; '' for a malformed line without a colon (kept verbatim). */
  name: string;
  /** The field exactly as received, folded lines and line ending included. */
  raw: string;
}

/** Splits a header block (without the blank separator line) into fields; never throws. */
export function splitHeaderFields(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = block.split(/(?<=\n)/);
  for (const line of lines) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1].raw += line; // continuation of a folded field
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 && !/[\s]/.test(line.slice(0, colon)) ? line.slice(0, colon).toLowerCase() : '';
    fields.push({ name, raw: line });
  }
  return fields;
}

export function fieldValue(field: HeaderField): string {
  const colon = field.raw.indexOf(':');
  return field.raw.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').replace(/\r?\n$/, '').trim();
}

/**
 * Removes what an untrusted sender must not be able to set (SPEC §5): every X-Mxward-* field and
 * any Authentication-Results claiming our authserv-id.
 */
export function stripUntrustedFields(fields: HeaderField[], authservId: string): { kept: HeaderField[]; removed: number } {
  const ours = authservId.toLowerCase();
  const kept = fields.filter((f) => {
    if (f.name.startsWith('x-mxward-')) return false;
    if (f.name === 'authentication-results') {
      const id = fieldValue(f).split(/[;\s]/, 1)[0]?.toLowerCase();
      if (id === ours) return false;
    }
    return true;
  });
  return { kept, removed: fields.length - kept.length };
}

export interface HeaderFacts {
  headerFrom: string[];
  author: AuthorFacts;
  messageId: string | null;
  subject: string | null;
}

/** From addresses flattened out of groups; a malformed From yields whatever parsed, maybe none. */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  const visit = (entries: ReturnType<typeof addressparser>) => {
    for (const entry of entries) {
      if ('group' in entry && Array.isArray(entry.group)) visit(entry.group);
      else if ('address' in entry && entry.address) out.push(entry.address);
    }
  };
  try {
    visit(addressparser(value));
  } catch {
    // a hostile From: is a fact to record (no usable address), not a reason to crash
  }
  return out;
}

export function extractHeaderFacts(fields: HeaderField[]): HeaderFacts {
  const first = (name: string) => fields.find((f) => f.name === name);
  const fromFields = fields.filter((f) => f.name === 'from');
  const from = fromFields.flatMap((f) => parseAddressList(fieldValue(f)));
  const mid = first('message-id');
  const subject = first('subject');
  return {
    headerFrom: from,
    author: decideAuthor(fromFields.length, from),
    messageId: mid ? fieldValue(mid).slice(0, 998) : null,
    subject: subject ? fieldValue(subject).slice(0, 998) : null,
  };
}

/** Finds the end of the header section: index just past the blank line, or -1 if not yet seen. */
export function findHeaderEnd(buf: Buffer): { headerEnd: number; bodyStart: number } | null {
  if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) return { headerEnd: 0, bodyStart: 2 };
  if (buf.length >= 1 && buf[0] === 0x0a) return { headerEnd: 0, bodyStart: 1 };
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return { headerEnd: crlf + 2, bodyStart: crlf + 4 };
  if (lf >= 0) return { headerEnd: lf + 1, bodyStart: lf + 2 };
  return null;
}

/** Interim author rule; replaced by the canonical header reader (issue 11). */
function decideAuthor(fieldCount: number, addresses: string[]): AuthorFacts {
  const domains = [...new Set(addresses.map((a) => parseAddress(a).domain).filter((d): d is string => !!d))];
  if (fieldCount === 0) return { kind: 'none' };
  if (fieldCount > 1) return { kind: 'ambiguous', reason: 'several-fields', domains };
  if (addresses.length > 1) return { kind: 'ambiguous', reason: 'several-mailboxes', domains };
  const domain = addresses.length === 1 ? parseAddress(addresses[0]).domain : null;
  if (!domain) return { kind: 'ambiguous', reason: 'unusable-address', domains };
  return { kind: 'single', address: addresses[0], domain };
}
