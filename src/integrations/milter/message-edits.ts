// The header changes that make the message Postfix delivers the one mxward decided on (SPEC §5,
// §10): untrusted fields removed, a folded From unfolded, mxward's stamps added at the top.
// Pure: from the fields Postfix sent and the canonical reading, to milter edits.
import { splitHeaderFields, stripUntrustedFields } from '../../smtp/header-section.ts';
import type { HeaderField } from '../../smtp/header-section.ts';
import type { HeaderEdit, ReceivedHeader } from './milter-session.ts';

/** The field as the canonical reader sees it: `Name:value` with CRLF line ends. */
export function rawField(h: ReceivedHeader, leadingSpace: boolean): string {
  const value = leadingSpace ? h.value : ` ${h.value}`;
  return `${h.name}:${value.replace(/\r?\n/g, '\r\n')}\r\n`;
}

/** Header section and body as one message, the way the gateway reads DATA. */
export function reassemble(headers: ReceivedHeader[], body: Buffer[], leadingSpace: boolean): Buffer {
  const head = headers.map((h) => rawField(h, leadingSpace)).join('');
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from('\r\n'), ...body]);
}

/**
 * SMFIR_CHGHEADER deletions for every field the canonical reading strips (X-Mxward-*, our
 * Authentication-Results), matched by canonical name so `X-Mxward-AuthAs ` cannot slip through.
 * The index counts fields of the same name as Postfix does (case-insensitively, from 1); the
 * deletions go last field first so that no deletion moves the index of another.
 */
export function untrustedDeletions(headers: ReceivedHeader[], authservId: string, leadingSpace: boolean): HeaderEdit[] {
  const seen = new Map<string, number>();
  const edits: HeaderEdit[] = [];
  for (const h of headers) {
    const key = h.name.toLowerCase();
    const index = (seen.get(key) ?? 0) + 1;
    seen.set(key, index);
    const field: HeaderField = { name: h.name.trim().toLowerCase(), raw: rawField(h, leadingSpace) };
    if (stripUntrustedFields([field], authservId).removed === 1) edits.push({ op: 'change', index, name: h.name, value: null });
  }
  return edits.reverse();
}

/** SPEC §10: a folded From is delivered unfolded, as it was decided on. */
export function unfoldedFromEdit(headers: ReceivedHeader[], canonical: HeaderField[], leadingSpace: boolean): HeaderEdit[] {
  const received = headers.find((h) => h.name.trim().toLowerCase() === 'from');
  const from = canonical.find((f) => f.name === 'from');
  if (!received || !from || rawField(received, leadingSpace) === from.raw) return [];
  const value = from.raw.slice(from.raw.indexOf(':') + 1).replace(/\r\n$/, '');
  return [{ op: 'change', index: 1, name: received.name, value: leadingSpace ? value : value.replace(/^ /, '') }];
}

/**
 * mxward's stamps (stamp-headers.ts) as insertions at the top, in order. Postfix writes its own
 * Received field, so mxward's is left out. Folds are sent as LF + tab, as milter values carry them.
 */
export function stampEdits(stamped: string, leadingSpace: boolean): HeaderEdit[] {
  return splitHeaderFields(stamped)
    .filter((f) => f.name !== 'received' && f.name !== '')
    .map((f, index) => {
      const colon = f.raw.indexOf(':');
      const name = f.raw.slice(0, colon);
      const value = f.raw.slice(colon + 1).replace(/\r\n$/, '').replace(/\r\n/g, '\n');
      return { op: 'insert', index, name, value: leadingSpace ? value : value.replace(/^ /, '') } as HeaderEdit;
    });
}
