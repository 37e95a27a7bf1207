// Get-MessageTraceV2 | Export-Csv (SPEC §8): Received, SenderAddress, RecipientAddress, Subject,
// Status, ToIP, FromIP, Size, MessageId, MessageTraceId; older exports add Organization,
// StartDate, EndDate, Index. One row per recipient. The hot path of a big report: no per-row
// allocation beyond the row itself (the evidence list is shared per file).
import type { Evidence, ReportRow } from '../types.ts';
import type { CsvMapperFactory, CsvRowMapper } from './csv-import.ts';
import { columnIndex } from './csv-import.ts';
import { FileDates } from './dates.ts';
import type { CsvOptions } from './csv-import.ts';

const EVIDENCE: readonly Evidence[] = Object.freeze([
  { fact: 'time', from: 'column Received' },
  { fact: 'p1', from: 'column SenderAddress' },
  { fact: 'recipient', from: 'column RecipientAddress' },
  { fact: 'source IP', from: 'column FromIP' },
  { fact: 'attribution', from: 'message trace has no attribution column: anonymous unless a known connector matches FromIP' },
]);

export function looksLikeMessageTrace(header: string[]): boolean {
  const col = columnIndex(header);
  return col('received') >= 0 && col('senderaddress') >= 0 && col('recipientaddress') >= 0;
}

/**
 * `reportOnly`: MessageId, which the report does not need (a message's rows share Received and
 * Subject, which count its recipients), is left out (null), so that the splitter skips it too
 * (the worker threads of parallel-import.ts). Status is read: the trace's own verdict is a
 * signal against a source (issue 12).
 */
export function messageTraceMapperFor(reportOnly: boolean): CsvMapperFactory {
  return (header, file, options) => mapperOf(header, file, reportOnly, options);
}

export const messageTraceMapper: CsvMapperFactory = (header, file, options) => mapperOf(header, file, false, options);

function mapperOf(header: string[], file: string, reportOnly: boolean, options?: CsvOptions): CsvRowMapper | string {
  const dates = new FileDates(options?.dateOrder ?? null);
  const col = columnIndex(header);
  const iReceived = col('received');
  const iSender = col('senderaddress');
  const iRecipient = col('recipientaddress');
  if (iReceived < 0 || iSender < 0 || iRecipient < 0) return 'not a message trace header: needs Received, SenderAddress, RecipientAddress';
  const iSubject = col('subject');
  const iStatus = col('status');
  const iFromIp = col('fromip');
  const iMessageId = reportOnly ? -1 : col('messageid');
  const map: CsvRowMapper = (f, line) => {
    const time = dates.parse(f[iReceived]);
    if (typeof time === 'object') return `field Received: ${JSON.stringify(f[iReceived].slice(0, 40))} ${time.refused}`;
    const timeMs = typeof time === 'number' ? time : null;
    const fromIp = iFromIp >= 0 ? f[iFromIp] : '';
    const row: ReportRow = {
      origin: { file, line, format: 'message-trace-v2' },
      timeMs,
      p1: f[iSender],
      p2: null,
      recipients: [f[iRecipient]],
      subject: iSubject >= 0 ? f[iSubject] : null,
      messageId: iMessageId >= 0 ? f[iMessageId] : null,
      sourceIp: fromIp === '' ? null : fromIp,
      helo: null, ptr: null, connector: null, certificateName: null, authAs: null,
      spf: null, dkim: null, dmarc: null, compauth: null, compauthReason: null, arc: null,
      direction: null,
      status: iStatus >= 0 ? f[iStatus] : null,
      threats: null,
      evidence: EVIDENCE,
    };
    return row;
  };
  // ToIP, Size, MessageTraceId and anything else are never read: the splitter skips them.
  map.dates = dates;
  map.columns = [iReceived, iSender, iRecipient, iSubject, iStatus, iFromIp, iMessageId].filter((i) => i >= 0);
  return map;
}
