// LMTP (RFC 2033) to a mailbox server such as Dovecot. The client is the SMTP relay's: LHLO
// instead of EHLO and one reply per recipient after the final dot (§4.2), which the relay maps
// to per-recipient outcomes, so a message refused for one mailbox is retried only for that one.
import type { RemoteRoute } from '../routing.ts';
import { SmtpRelayTarget } from './smtp-relay.ts';

export function createLmtpTarget(route: Omit<RemoteRoute, 'type'>, heloName: string): SmtpRelayTarget {
  return new SmtpRelayTarget({ ...route, type: 'lmtp' }, heloName);
}
