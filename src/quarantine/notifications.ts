// Quarantine notification digests (SPEC §6): one message per recipient per interval listing what
// was quarantined for them, delivered like any other message (spool, then the normal target).
import { randomBytes } from 'node:crypto';
import type { QuarantineItem } from '../store/ports.ts';
import { rfc5322Date } from '../spool/dsn.ts';

/** Subjects come from senders: one line, printable ASCII, bounded, so the digest stays well formed. */
function safe(text: string | null, max = 120): string {
  return (text ?? '').replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

export interface DigestInput {
  from: string;
  to: string;
  hostname: string;
  items: QuarantineItem[];
  now: Date;
  /** A signed, expiring console link for this recipient (issue 13); absent when no console runs. */
  link?: { url: string; expiresAt: Date } | null;
}

export function buildDigest(input: DigestInput): string {
  const lines = input.items.map((item) => `  ${item.id}  ${item.time.slice(0, 16).replace('T', ' ')}  from ${safe(item.headerFrom.join(', ') || item.mailFrom || '<>', 80)}  "${safe(item.subject)}"`);
  const body = [
    `${input.items.length} message(s) addressed to you were quarantined by ${safe(input.hostname)}.`,
    '',
    ...lines,
    '',
    // The URL is ours (signed for this address); it is printable ASCII by construction.
    ...(input.link ? [`Review and act on them in your browser (link valid until ${input.link.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC):`, `  ${safe(input.link.url, 2000)}`, ''] : []),
    'To review one:   mxward quarantine show ID --as YOUR-ADDRESS',
    'To release one:  mxward quarantine release ID --as YOUR-ADDRESS   (or request-release, as your policy allows)',
    '',
  ].join('\r\n');
  return [
    `From: Quarantine <${safe(input.from)}>`,
    `To: <${safe(input.to)}>`,
    `Subject: Quarantine: ${input.items.length} message(s) held for you`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <quarantine-digest.${randomBytes(6).toString('hex')}@${safe(input.hostname)}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    body,
  ].join('\r\n');
}

/** Whether a digest may go out now: never more than one per recipient per interval. */
export function digestDue(lastSent: string | null, now: Date, intervalMs: number): boolean {
  return lastSent === null || now.getTime() - Date.parse(lastSent) >= intervalMs;
}
