// mxward's own trace records (SPEC §7) -> report rows, so the same report covers the gateway's
// traffic. Unlike the Microsoft exports, the trace knows the attribution, the connector and the
// client certificate, and what the gateway actually did.
import type { TraceRecord } from '../../domain/types.ts';
import type { Evidence, ReportRow } from '../types.ts';
import { emptyRow } from '../types.ts';

const EVIDENCE: readonly Evidence[] = Object.freeze([
  { fact: 'attribution', from: 'trace field attribution' },
  { fact: 'p1', from: 'trace field mailFrom' },
  { fact: 'source IP', from: 'trace field remoteIp' },
  { fact: 'connector', from: 'trace field connector' },
]);

/** `mx.vendor.example,alt.vendor.example (unverified)` -> the first verified name, else null. */
function certificateNameOf(text: string | null): string | null {
  if (!text || text.endsWith('(unverified)')) return null;
  return text.split(',')[0].trim() || null;
}

export function rowFromTrace(record: TraceRecord, file: string, line: number): ReportRow {
  const row = emptyRow({ file, line, format: 'mxward-trace' }, EVIDENCE);
  const time = Date.parse(record.time);
  row.timeMs = Number.isNaN(time) ? null : time;
  row.p1 = record.mailFrom;
  row.p2 = record.headerFrom;
  row.recipients = record.recipients;
  row.subject = record.subject;
  row.messageId = record.messageId;
  row.sourceIp = record.remoteIp;
  row.helo = record.helo;
  row.ptr = record.ptr;
  row.connector = record.connector ?? '';
  row.certificateName = certificateNameOf(record.tlsClientCertificate);
  row.authAs = record.attribution;
  row.spf = record.auth?.spf.result ?? null;
  row.dkim = record.auth ? (record.auth.dkim.find((d) => d.result === 'pass')?.result ?? record.auth.dkim[0]?.result ?? 'none') : null;
  row.dmarc = record.auth?.dmarc.result ?? null;
  row.compauth = record.auth?.compauth.result ?? null;
  row.compauthReason = record.auth?.compauth.reason ?? null;
  row.arc = record.auth?.arc.result ?? null;
  row.direction = record.authUser ? 'outbound' : 'inbound';
  row.status = `${record.verdict}${record.directSendWouldReject ? ' (would reject: Direct Send)' : ''}${record.reply ? `: ${record.reply}` : ''}`;
  return row;
}
