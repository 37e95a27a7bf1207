// The reply catalogue (SPEC §3). Every reply the gateway sends for a policy decision comes from
// here, so wording stays identical to Exchange Online's where EXO has one.
import type { SmtpReply } from '../domain/types.ts';

function reply(code: number, enhanced: string, text: string): SmtpReply {
  return Object.freeze({ code, enhanced, text });
}

export const replies = Object.freeze({
  directSend: reply(550, '5.7.68', 'TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources'),
  connectorRestriction: reply(550, '5.7.51', 'TenantInboundAttribution; message did not match the IP or certificate restriction of a partner connector'),
  relayDenied: reply(550, '5.7.64', 'TenantAttribution; Relay Access Denied'),
  recipientNotFound: reply(550, '5.1.10', 'RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'),
  authFailed: reply(535, '5.7.8', 'Authentication credentials invalid'),
  authRequired: reply(530, '5.7.57', 'Client not authenticated to send mail'),
  sendAsDenied: reply(550, '5.7.60', 'SMTP; Client does not have permissions to send as this sender'),
  spoofReject: reply(550, '5.7.1', 'Message rejected: sender spoofs an organization domain'),
  /** auth.spfHardFailAction reject: RFC 7208 §8.4 allows a 550 on SPF fail; 5.7.23 is RFC 7372's "SPF validation failed". */
  spfHardFail: reply(550, '5.7.23', 'Message rejected: the sending domain\'s SPF record does not authorize this source (SPF hard fail)'),
  tempAuth: reply(451, '4.7.26', 'Temporary authentication failure, try again later'),
  internal: reply(451, '4.3.0', 'Temporary server error, try again later'),
  storageFull: reply(452, '4.3.1', 'Insufficient system storage'),
  tooBig: reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  tooMany: reply(421, '4.3.2', 'Too many connections, try again later'),
  tooManyRecipients: reply(452, '4.5.3', 'Too many recipients'),
  badAddress: reply(501, '5.1.7', 'Bad address syntax'),
  /** RFC 5321 §4.5.3.1.4: a command line over the limit; the connection is closed after it. */
  lineTooLong: reply(500, '5.5.2', 'Line too long'),
  /** The message took longer than limits.maxDataMs; the connection is closed after it. */
  dataTimeout: reply(421, '4.4.2', 'Message transfer took too long, closing connection'),
  headerTooBig: reply(552, '5.3.4', 'Message header section exceeds the maximum size'),
  // Session and resource limits (issue 11). After each 421 the connection is closed.
  /** limits.maxRefusedRecipients refused RCPTs in one transaction (Postfix: too many errors). */
  tooManyRefusedRecipients: reply(421, '4.7.0', 'Too many refused recipients, closing connection'),
  /** limits.hardErrorLimit errors without a message accepted (Postfix smtpd_hard_error_limit). */
  tooManyErrors: reply(421, '4.7.0', 'Too many errors, closing connection'),
  /** A command line not complete within limits.commandLineDeadlineMs of its first byte. */
  commandTimeout: reply(421, '4.4.2', 'Command took too long, closing connection'),
  /** No DATA within limits.dialogueDeadlineMs of connect or of the last message. */
  dialogueTimeout: reply(421, '4.4.2', 'Session took too long, closing connection'),
  /** limits.maxAuthFailuresPerConnection failed AUTH on this connection. */
  tooManyAuthFailures: reply(421, '4.7.0', 'Too many authentication failures, closing connection'),
  /** RFC 4954 §6: the client's IP or the user name is locked out for a while, or hashing is saturated. */
  authLockedOut: reply(454, '4.7.0', 'Temporary authentication failure, try again later'),
  /** RFC 3463 X.1.3: the local delivery target cannot store mail for this address (a Maildir name over 255 bytes). */
  unstorableRecipient: reply(550, '5.1.3', 'Recipient address cannot be stored by the local delivery target'),
  /** SPEC §10: no single author, so DMARC cannot be evaluated (RFC 7489 §6.6.1) and readers would guess. */
  unclearAuthor: reply(550, '5.6.0', 'Message must have exactly one From field with one valid address (RFC 5322 3.6)'),
});

export type ReplyKey = keyof typeof replies;

/** `550 5.7.509 …` names the failing domain, so it is built per message. */
export function dmarcRejectReply(domain: string): SmtpReply {
  return reply(550, '5.7.509', `Access denied, sending domain [${domain.toUpperCase()}] does not pass DMARC verification and has a DMARC policy of reject`);
}

/**
 * SPEC §10: a header section readers could disagree on. The detail is mxward's own wording (never
 * client bytes), so it is safe on the wire.
 */
export function malformedHeaderReply(detail: string): SmtpReply {
  return reply(550, '5.6.0', `Malformed message header section: ${detail}`);
}

/** `250 2.6.0 <id> Queued mail for delivery`: the only success reply at end of DATA. */
export function queuedReply(queueId: string): SmtpReply {
  return reply(250, '2.6.0', `<${queueId}> Queued mail for delivery`);
}

/** The one place a reply becomes text on the wire. */
export function renderReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

/** The text after the code, as smtp-server wants it in `err.message`. */
export function replyMessage(r: SmtpReply): string {
  return `${r.enhanced} ${r.text}`;
}
