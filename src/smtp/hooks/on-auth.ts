// Stage 3 (SPEC §2.3): AUTH PLAIN/LOGIN on the submission listener, after STARTTLS. Success makes
// the session `internal`; the user's addresses become the send-as list for MAIL FROM.
// Issue 11: failures are throttled per connection, per client and per user (auth-throttle.ts),
// and the password check waits for a slot of its own so guessing cannot starve the spool.
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SmtpReply } from '../../domain/types.ts';
import { replies } from '../../policy/replies.ts';
import { SmtpError } from './smtp-error.ts';
import { verifyPassword } from '../../users/passwords.ts';
import { sessionState } from '../context.ts';
import type { GatewayContext } from '../context.ts';
import { authThrottleFor } from '../auth-throttle.ts';
import { clientKey } from '../connection-limits.ts';
import { guardOf } from '../session-limits.ts';

// A dummy hash so an unknown user costs the same scrypt time as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export async function onAuth(
  ctx: GatewayContext,
  auth: SMTPServerAuthentication,
  session: SMTPServerSession,
): Promise<SMTPServerAuthenticationResponse> {
  const state = sessionState(session);
  const username = auth.username ?? '';
  const ip = state.facts.remoteIp;
  const limits = ctx.config.limits;
  const throttle = authThrottleFor(limits);
  const client = clientKey(ip, limits.ipv6PrefixLength);
  const guard = guardOf(session);

  const admission = throttle.admit(client, username);
  if (!admission.ok) {
    ctx.logger.warn({ stage: 'auth', event: 'locked-out', ip, username, lockedBy: admission.lockedBy }, 'authentication refused: locked out');
    throw failOnConnection(guard, replies.authLockedOut, limits.maxAuthFailuresPerConnection);
  }
  const user = await ctx.store.getUser(username);
  const checked = await throttle.hashGate.run(() => verifyPassword(auth.password ?? '', user?.passwordHash ?? DUMMY_HASH));
  if (!checked.ok) {
    ctx.logger.warn({ stage: 'auth', event: 'hash-busy', ip, username }, 'authentication refused: password checks saturated');
    throw new SmtpError(replies.authLockedOut);
  }
  if (!user || !checked.value) {
    const failure = throttle.recordFailure(client, username);
    ctx.logger.info({ stage: 'auth', event: 'failed', ip, username, ...failure }, 'authentication failed');
    // The reply waits, outside the hash slot, so a guesser pays in time and not in our threads.
    if (failure.delayMs > 0) await sleep(failure.delayMs);
    throw failOnConnection(guard, replies.authFailed, limits.maxAuthFailuresPerConnection);
  }
  throttle.recordSuccess(username);
  state.facts = { ...state.facts, authUser: user.username, authSendAs: user.addresses };
  ctx.logger.info({ stage: 'auth', event: 'ok', ip, username }, 'authenticated');
  return { user: user.username };
}

/** Counts a failure on this connection; the last one allowed is answered 421 (which closes it). */
function failOnConnection(guard: ReturnType<typeof guardOf>, reply: SmtpReply, maxPerConnection: number): SmtpError {
  if (!guard) return new SmtpError(reply);
  guard.authFailures += 1;
  return new SmtpError(guard.authFailures >= maxPerConnection ? replies.tooManyAuthFailures : reply);
}
