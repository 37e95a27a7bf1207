// Lets a hook end its own session (smtp-server gives hooks the session, not the connection):
// the listener registers each connection under its session object, which lives as long as it.
import type { SMTPServerSession } from 'smtp-server';
import type { SmtpReply } from '../domain/types.ts';

export interface ConnectionHandle {
  send(code: number, data: string, context: false): void;
}

const connectionBySession = new WeakMap<object, ConnectionHandle>();

export function registerConnection(session: object, connection: ConnectionHandle): void {
  connectionBySession.set(session, connection);
}

/** Sends a 4xx reply and closes: smtp-server ends the connection after any 421. */
export function closeSession(session: SMTPServerSession, reply: SmtpReply): void {
  connectionBySession.get(session)?.send(reply.code, `${reply.enhanced} ${reply.text}`, false);
}
