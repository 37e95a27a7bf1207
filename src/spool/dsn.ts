// Delivery Status Notifications (RFC 3464) for recipients that failed for good: a
// multipart/report (RFC 6522) with a human part, the machine-readable message/delivery-status and
// the original header section (text/rfc822-headers, so a bounce never reflects a body, which
// would make the gateway a backscatter amplifier).
//
// Rules (RFC 5321 §4.5.5, §6.1; RFC 3464 §1): the DSN goes to the P1 sender only, is sent with
// the null sender `<>` so that it can never bounce in turn, and no DSN is ever made for a message
// that itself had the null sender. Mail refused during the SMTP conversation never reaches the
// spool, so it never gets one either: the refusing reply was the notification.
import { randomBytes } from 'node:crypto';
import type { SpoolEnvelope, SpoolRecipient } from './envelope.ts';
import { newEnvelope } from './envelope.ts';
import type { Spool } from './spool.ts';

/** Header section kept in the DSN at most; a longer one is cut at a line boundary. */
const MAX_RETURNED_HEADER_BYTES = 64 * 1024;

export interface DsnInput {
  reportingMta: string;
  queueId: string;
  mailFrom: string;
  arrivalDate: Date;
  failed: SpoolRecipient[];
  /** The original message's header section, CRLF line ends. */
  originalHeader: string;
  now: Date;
}

/** RFC 5322 §3.3 date-time with a numeric zone. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** `550 5.1.1 <x>: user unknown` → `5.1.1`; without an enhanced code, the reply class (RFC 3463 §3.1). */
export function statusOf(reply: string | null): string {
  const text = reply ?? '';
  const enhanced = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(text);
  if (enhanced) return enhanced[1];
  if (/gave up: queue lifetime exceeded/.test(text)) return '4.4.7'; // RFC 3463: delivery time expired
  const code = /^([245])\d{2}\b/.exec(text);
  return code ? `${code[1]}.0.0` : '5.0.0';
}

/** Field values must be US-ASCII without line breaks (RFC 3464 §2.1.3). */
function asciiLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
}

export function buildDsn(input: DsnInput): string {
  const boundary = `mxward-dsn-${randomBytes(8).toString('hex')}`;
  const crlf = (lines: string[]) => lines.join('\r\n');
  const list = input.failed.map((r) => `  <${asciiLine(r.address)}>: ${asciiLine(r.lastReply ?? 'failed')}`);
  const perRecipient = input.failed.map((r) => crlf([
    `Final-Recipient: rfc822; ${asciiLine(r.address)}`,
    'Action: failed',
    `Status: ${statusOf(r.lastReply)}`,
    ...(r.lastReply && /^\d{3}/.test(r.lastReply) ? [`Diagnostic-Code: smtp; ${asciiLine(r.lastReply)}`] : []),
    `Last-Attempt-Date: ${rfc5322Date(input.now)}`,
  ]));
  const header = input.originalHeader.length > MAX_RETURNED_HEADER_BYTES
    ? input.originalHeader.slice(0, input.originalHeader.lastIndexOf('\r\n', MAX_RETURNED_HEADER_BYTES) + 2)
    : input.originalHeader;
  return crlf([
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${asciiLine(input.mailFrom)}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <${input.queueId}.dsn.${randomBytes(4).toString('hex')}@${input.reportingMta}>`,
    'Auto-Submitted: auto-replied', // RFC 3834 §5: automatic, so responders do not answer it
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is the mail gateway at ${input.reportingMta}.`,
    '',
    'Your message could not be delivered to the following recipients:',
    '',
    ...list,
    '',
    `Queue ID: ${input.queueId}`,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `X-Mxward-Queue-ID: ${input.queueId}`,
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
    '',
    perRecipient.join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    header.replace(/(\r\n)+$/, ''),
    '',
    `--${boundary}--`,
    '',
  ]);
}

/** The spooled message's own header section (up to the first empty line), stamped headers first. */
export async function readOriginalHeader(spool: Spool, envelope: SpoolEnvelope): Promise<string> {
  const text = (await spool.readMessageStart(envelope.queueId, MAX_RETURNED_HEADER_BYTES)).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return envelope.prependHeaders + (end >= 0 ? text.slice(0, end + 2) : text);
}

/** Builds the DSN and commits it to the spool with the null sender; returns its queue id. */
export async function spoolDsn(spool: Spool, envelope: SpoolEnvelope, failed: SpoolRecipient[], reportingMta: string, now: Date = new Date()): Promise<string | null> {
  if (envelope.mailFrom === null || failed.length === 0) return null;
  const text = buildDsn({
    reportingMta, queueId: envelope.queueId, mailFrom: envelope.mailFrom, arrivalDate: new Date(envelope.receivedAt),
    failed, originalHeader: await readOriginalHeader(spool, envelope), now,
  });
  const mailFrom = envelope.mailFrom;
  return spool.commitBuffer(Buffer.from(text, 'latin1'), (queueId) => newEnvelope({
    queueId, mailFrom: null, recipients: [mailFrom], prependHeaders: '', transactionId: `dsn:${envelope.queueId}`, now,
  }));
}
