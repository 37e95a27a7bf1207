// Stage 2 (SPEC §2.2): record TLS facts and the client certificate, verified or not. Whether it
// may match a connector is decided in policy/, from these facts.
import type { TLSSocket } from 'node:tls';
import type { SMTPServerSession } from 'smtp-server';
import type { ClientCertificate } from '../../domain/types.ts';
import { sessionState } from '../context.ts';

export function describeClientCertificate(socket: TLSSocket): ClientCertificate | null {
  const peer = socket.getPeerCertificate(false);
  if (!peer || Object.keys(peer).length === 0) return null;
  const sans = (peer.subjectaltname ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
  const cn = peer.subject?.CN;
  return {
    subjectCN: Array.isArray(cn) ? cn[0] ?? null : cn ?? null,
    dnsNames: sans,
    verified: socket.authorized === true,
    verifyError: socket.authorized ? null : String(socket.authorizationError ?? 'not verified'),
    validFrom: new Date(peer.valid_from).toISOString(),
    validTo: new Date(peer.valid_to).toISOString(),
    fingerprint256: peer.fingerprint256,
  };
}

export function onSecure(socket: TLSSocket, session: SMTPServerSession, callback: (err?: Error) => void): void {
  const state = sessionState(session);
  const cipher = socket.getCipher();
  let clientCertificate: ClientCertificate | null = null;
  try {
    clientCertificate = describeClientCertificate(socket);
  } catch {
    clientCertificate = null; // an unparseable certificate is simply not a usable one
  }
  state.facts = {
    ...state.facts,
    tls: { version: socket.getProtocol() ?? 'unknown', cipher: cipher?.name ?? 'unknown', clientCertificate },
  };
  if (state.facts.listener === 'submission') (session as SMTPServerSession & { disabledCommands?: string[] }).disabledCommands = [];
  callback();
}
