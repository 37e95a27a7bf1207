// Stage 1 (SPEC §2.1): record the connection, apply connection limits, capture the policy.
import type { SMTPServerSession } from 'smtp-server';
import type { ListenerKind } from '../../domain/types.ts';
import { replies } from '../../policy/replies.ts';
import { attachState } from '../context.ts';
import type { GatewayContext } from '../context.ts';
import { SmtpError } from './smtp-error.ts';

export function onConnect(ctx: GatewayContext, listener: ListenerKind, session: SMTPServerSession, callback: (err?: Error) => void): void {
  const ip = session.remoteAddress;
  if (!ctx.limiter.tryAcquire(ip)) {
    ctx.logger.warn({ stage: 'connect', event: 'limit', ip }, 'connection limit reached');
    // Not attached: onClose must not release a slot this session never held.
    return callback(new SmtpError(replies.tooMany));
  }
  attachState(session, {
    policy: ctx.currentPolicy(),
    tx: null,
    facts: {
      sessionId: session.id,
      remoteIp: ip,
      remotePort: session.remotePort,
      localPort: session.localPort,
      listener,
      helo: null,
      ptr: session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : null,
      tls: null,
      authUser: null,
      authSendAs: [],
    },
  });
  // RFC 4954 §4: AUTH PLAIN/LOGIN over plaintext would expose the password; the submission
  // listener neither offers nor accepts AUTH until STARTTLS (on-secure.ts lifts this).
  if (listener === 'submission') (session as SMTPServerSession & { disabledCommands?: string[] }).disabledCommands = ['AUTH'];
  callback();
}
