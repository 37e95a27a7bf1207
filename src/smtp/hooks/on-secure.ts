// Stage 2 (SPEC §2.2): record TLS facts and the client certificate, verified or not. Whether it
// may match a connector is decided in policy/, from these facts.
import type { TLSSocket } from 'node:tls';
import type { SMTPServerSession } from 'smtp-server';
import type { ClientCertificate } from '../../domain/types.ts';
import { sessionState } from '../context.ts';

/**
 * The dNSName entries of Node's `subjectaltname` text (`DNS:a.test, IP Address:…`). Since the
 * fix for CVE-2021-44532 Node writes a value holding a comma, quote or other special character as
 * a JSON string (`DNS:"a.test, DNS:b.test"`); splitting at every comma would make one crafted
 * entry look like two names, so quoted values are read whole and kept as they are (they are not
 * LDH, so policy/certificate-names.ts refuses them).
 */
export function subjectAltDnsNames(text: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      end += 1;
      try { value = JSON.parse(text.slice(colon + 1, end)) as string; } catch { value = text.slice(colon + 1, end); }
    } else {
      end = text.indexOf(', ', colon + 1);
      if (end < 0) end = text.length;
      value = text.slice(colon + 1, end);
    }
    if (type === 'DNS') names.push(value);
    i = text.startsWith(', ', end) ? end + 2 : end + 1;
  }
  return names;
}

export function describeClientCertificate(socket: TLSSocket): ClientCertificate | null {
  const peer = socket.getPeerCertificate(false);
  if (!peer || Object.keys(peer).length === 0) return null;
  const cn = peer.subject?.CN;
  return {
    // Several CNs are ambiguous (RFC 6125 §6.4.4 does not say which one counts): they are kept
    // together for the trace, and the joined text is never a valid name, so none of them matches.
    subjectCN: Array.isArray(cn) ? cn.join(', ') : cn ?? null,
    dnsNames: subjectAltDnsNames(peer.subjectaltname ?? ''),
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
