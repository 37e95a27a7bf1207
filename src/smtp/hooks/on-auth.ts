// Stage 3 (SPEC §2.3): AUTH PLAIN/LOGIN on the submission listener, after STARTTLS. Success makes
// the session `internal`; the user's addresses become the send-as list for MAIL FROM.
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import { replies } from '../../policy/replies.ts';
import { SmtpError } from './smtp-error.ts';
import { verifyPassword } from '../../users/passwords.ts';
import { sessionState } from '../context.ts';
import type { GatewayContext } from '../context.ts';

// A dummy hash so an unknown user costs the same scrypt time as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export async function onAuth(
  ctx: GatewayContext,
  auth: SMTPServerAuthentication,
  session: SMTPServerSession,
): Promise<SMTPServerAuthenticationResponse> {
  const state = sessionState(session);
  const username = auth.username ?? '';
  const user = await ctx.store.getUser(username);
  const ok = await verifyPassword(auth.password ?? '', user?.passwordHash ?? DUMMY_HASH);
  if (!user || !ok) {
    ctx.logger.info({ stage: 'auth', event: 'failed', ip: state.facts.remoteIp, username }, 'authentication failed');
    throw new SmtpError(replies.authFailed);
  }
  state.facts = { ...state.facts, authUser: user.username, authSendAs: user.addresses };
  ctx.logger.info({ stage: 'auth', event: 'ok', ip: state.facts.remoteIp, username }, 'authenticated');
  return { user: user.username };
}
