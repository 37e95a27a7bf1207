// What the spool keeps beside each message: the envelope and per-recipient delivery progress.

export type RecipientState = 'pending' | 'delivered' | 'failed';

export interface SpoolRecipient {
  address: string;
  state: RecipientState;
  attempts: number;
  lastReply: string | null;
}

export interface SpoolEnvelope {
  queueId: string;
  /** Null for the null sender `<>`: such a message never gets a bounce. */
  mailFrom: string | null;
  recipients: SpoolRecipient[];
  /** Received and X-Mxward-* headers, prepended at delivery so the body is written only once. */
  prependHeaders: string;
  receivedAt: string;
  transactionId: string;
  nextAttemptAt: string;
}

export function newEnvelope(input: { queueId: string; mailFrom: string | null; recipients: string[]; prependHeaders: string; transactionId: string; now: Date }): SpoolEnvelope {
  return {
    queueId: input.queueId,
    mailFrom: input.mailFrom,
    recipients: input.recipients.map((address) => ({ address, state: 'pending', attempts: 0, lastReply: null })),
    prependHeaders: input.prependHeaders,
    receivedAt: input.now.toISOString(),
    transactionId: input.transactionId,
    nextAttemptAt: input.now.toISOString(),
  };
}
