// SmtpError carries its catalogue reply; smtp-server renders `responseCode message` from it.
import type { SmtpReply } from '../../domain/types.ts';
import { replyMessage } from '../../policy/replies.ts';

export class SmtpError extends Error {
  readonly reply: SmtpReply;
  readonly responseCode: number;
  constructor(reply: SmtpReply, options?: { cause?: unknown }) {
    super(replyMessage(reply), options);
    this.name = 'SmtpError';
    this.reply = reply;
    this.responseCode = reply.code;
  }
}
