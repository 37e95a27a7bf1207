// Headers mxward adds (SPEC §5). Built as text here, prepended at delivery time.
import type { Attribution, ConnectionFacts, DirectSendKind, VerdictAction } from '../domain/types.ts';

export interface StampInput {
  hostname: string;
  queueId: string;
  facts: ConnectionFacts;
  recipients: string[];
  attribution: Attribution;
  connector: string | null;
  directSend: DirectSendKind | null;
  wouldReject: boolean;
  verdict: VerdictAction;
  scl: number | null;
  /** Complete `Authentication-Results:` value, when authentication ran. */
  authenticationResults: string | null;
  now: Date;
}

const AUTH_AS: Record<Attribution, string> = { internal: 'Internal', partner: 'Partner', anonymous: 'Anonymous' };

/** Header values come partly from the client (HELO); keep them on one line and printable. */
function clean(value: string): string {
  return value.replace(/[\r\n\t\x00-\x1f\x7f]+/g, ' ').slice(0, 200);
}

/** RFC 5321 §4.4 trace field, with the RFC 3848 protocol keyword. */
export function receivedHeader(input: StampInput): string {
  const f = input.facts;
  const protocol = `ESMTP${f.tls ? 'S' : ''}${f.authUser ? 'A' : ''}`;
  const from = `${clean(f.helo ?? 'unknown')} (${f.ptr ? `${clean(f.ptr)} ` : ''}[${f.remoteIp}])`;
  const tls = f.tls ? `\r\n\t(using ${f.tls.version} with cipher ${f.tls.cipher})` : '';
  const forClause = input.recipients.length === 1 ? `\r\n\tfor <${clean(input.recipients[0])}>` : '';
  return `Received: from ${from}\r\n\tby ${clean(input.hostname)} (mxward) with ${protocol} id ${input.queueId}${tls}${forClause};\r\n\t${input.now.toUTCString().replace('GMT', '+0000')}\r\n`;
}

export function stampHeaders(input: StampInput): string {
  const lines: string[] = [];
  if (input.authenticationResults) lines.push(`Authentication-Results: ${input.authenticationResults}\r\n`);
  lines.push(`X-Mxward-AuthAs: ${AUTH_AS[input.attribution]}\r\n`);
  if (input.connector) lines.push(`X-Mxward-Connector: ${clean(input.connector)}\r\n`);
  if (input.directSend) lines.push(`X-Mxward-DirectSend: ${input.directSend}${input.wouldReject ? ';would-reject' : ''}\r\n`);
  lines.push(`X-Mxward-Verdict: ${input.verdict}\r\n`);
  if (input.scl !== null) lines.push(`X-Mxward-SCL: ${input.scl}\r\n`);
  return receivedHeader(input) + lines.join('');
}
