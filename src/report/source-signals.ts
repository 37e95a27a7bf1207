// Per-row signals about a source that need a little state (issue 12): recipients per message
// (fan-out) over a small window, and the export's own verdict read from its Status-like column.
// Kept apart from aggregate.ts so that file stays about counting.
import type { SourceStats } from './aggregate.ts';
import type { ReportRow } from './types.ts';

/** Messages a source's fan-out window holds (SourceStats.recentMessages). */
export const RECENT_MESSAGES = 4;

/** The trace's own verdict against a message (SPEC §8 Status, Defender DeliveryAction, mxward verdict). */
export const AGAINST_STATUS = /^(?:quarantined|filteredasspam|failed|junked|blocked|quarantine\b|junk\b)/i;

/** FNV-1a over a string's UTF-16 units, folded into `h`. */
function hashInto(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h;
}

/**
 * A message's key: its Message-ID, else its time and subject. A message trace is keyed on
 * Received and Subject even when it has MessageId, so the parallel reader (which skips that
 * column) counts exactly as the sequential one.
 */
function messageKey(row: ReportRow): number {
  const id = row.origin.format === 'message-trace-v2' ? null : row.messageId;
  if (id !== null) return hashInto(0x811c9dc5, id) & 0x3fffffff;
  return hashInto(Math.imul(0x811c9dc5 ^ ((row.timeMs ?? 0) % 2_147_483_647), 16777619), row.subject ?? '') & 0x3fffffff;
}

/** Adds a row's recipients to its message in the source's recent window (fan-out, issue 12). */
export function countRecipients(s: SourceStats, row: ReportRow): void {
  let recent = s.recentMessages;
  const key = messageKey(row);
  let at = -1;
  for (let i = recent.length - 2; i >= 0; i -= 2) if (recent[i] === key) { at = i; break; }
  if (at < 0) {
    // Arrays of exactly the size needed: a pushed-to array reserves room for 17 more.
    if (recent.length >= 2 * RECENT_MESSAGES) { recent.copyWithin(0, 2); recent[recent.length - 2] = key; recent[recent.length - 1] = 0; }
    else s.recentMessages = recent = recent.concat(key, 0);
    at = recent.length - 2;
  }
  const n = (recent[at + 1] += row.recipients.length);
  if (n > s.maxRecipientsPerMessage) s.maxRecipientsPerMessage = n;
}

/** AGAINST_STATUS, with the common `Delivered` and `Expanded` answered by the first letter. */
export function isAgainstStatus(status: string): boolean {
  const c = status.charCodeAt(0) | 32;
  return (c === 113 || c === 102 || c === 106 || c === 98) && AGAINST_STATUS.test(status);
}
