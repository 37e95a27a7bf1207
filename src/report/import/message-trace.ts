// Get-MessageTraceV2 | Export-Csv (SPEC §8): Received, SenderAddress, RecipientAddress, Subject,
// Status, ToIP, FromIP, Size, MessageId, MessageTraceId; older exports add Organization,
// StartDate, EndDate, Index. One row per recipient. The hot path of a big report: no per-row
// allocation beyond the row itself (the evidence list is shared per file), and for the report's
// own reader not even that (one row object refilled per line, see messageTraceMapperFor).
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
 * (the reader of parallel-import.ts, on the main thread and the workers). Status is read: the
 * trace's own verdict is a signal against a source (issue 12).
 *
 * A report-only mapper also refills one row object for every line (`reusesRow`): its rows go
 * straight into the aggregator, which copies what it keeps, and a fresh object of twenty-odd
 * fields, its origin and its recipient list per line were most of the garbage the collector
 * spent 7 to 15% of a reading thread on (issue 17). importCsv hands such rows on one at a time
 * and copies one before holding it back.
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
  const reused = reportOnly ? blankRow(file) : null;
  const map: CsvRowMapper = (f, line) => {
    const time = dates.parse(f[iReceived]);
    if (typeof time === 'object') return `field Received: ${JSON.stringify(f[iReceived].slice(0, 40))} ${time.refused}`;
    const timeMs = typeof time === 'number' ? time : null;
    const fromIp = iFromIp >= 0 ? f[iFromIp] : '';
    if (reused !== null) {
      reused.origin.line = line;
      reused.timeMs = timeMs;
      reused.p1 = f[iSender];
      reused.recipients[0] = f[iRecipient];
      reused.subject = iSubject >= 0 ? f[iSubject] : null;
      reused.sourceIp = fromIp === '' ? null : fromIp;
      reused.status = iStatus >= 0 ? f[iStatus] : null;
      return reused;
    }
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
  if (reused !== null) map.reusesRow = true;
  map.columns = [iReceived, iSender, iRecipient, iSubject, iStatus, iFromIp, iMessageId].filter((i) => i >= 0);
  return map;
}

/** The row a report-only mapper refills: every field this format never has stays null. */
function blankRow(file: string): ReportRow {
  return {
    origin: { file, line: 0, format: 'message-trace-v2' },
    timeMs: null, p1: null, p2: null, recipients: [''], subject: null, messageId: null, sourceIp: null,
    helo: null, ptr: null, connector: null, certificateName: null, authAs: null,
    spf: null, dkim: null, dmarc: null, compauth: null, compauthReason: null, arc: null,
    direction: null, status: null, threats: null, evidence: EVIDENCE,
  };
}
