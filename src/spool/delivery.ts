// The one delivery interface. The queue runner does not know whether a message goes to a
// Maildir, an SMTP relay or an LMTP server; each target answers per recipient.
import type { Readable } from 'node:stream';

export type RecipientOutcome =
  | { status: 'delivered'; reply: string }
  | { status: 'deferred'; reply: string }
  | { status: 'failed'; reply: string };

export interface DeliveryJob {
  queueId: string;
  mailFrom: string | null;
  recipients: string[];
  /** A fresh stream of the full message (prepended headers + spooled message) per call. */
  openMessage(): Readable;
}

export interface DeliveryTarget {
  readonly name: string;
  /** Returns one outcome per recipient, in the order given. Never throws for a remote refusal. */
  deliver(job: DeliveryJob): Promise<RecipientOutcome[]>;
  close?(): Promise<void>;
}
