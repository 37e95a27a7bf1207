// SmtpError carries its catalogue reply; smtp-server renders `responseCode message` from it.
import type { SmtpReply } from '../../domain/types.ts';
import { replyMessage } from '../../policy/replies.ts';

export class SmtpError extends Error {
  readonly reply: SmtpReply;
  readonly responseCode: number;
  constructor(reply: SmtpReply, options?: { cause?: unknown }) {
    // A reply, not a fault: no stack trace is captured (it was ~1.5 % of a refused session's CPU).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(replyMessage(reply), options);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'SmtpError';
    this.reply = reply;
    this.responseCode = reply.code;
  }
}
