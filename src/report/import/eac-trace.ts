// EAC downloadable message trace reports (summary and extended, SPEC §8): origin_timestamp,
// sender_address, recipient_status (`addr##Receive, Deliver;addr2##…`), message_subject,
// original_client_ip, directionality, connector_id; extended adds client_ip, client_hostname, ….
import type { Evidence, ReportRow } from '../types.ts';
import { emptyRow } from '../types.ts';
import type { CsvMapperFactory } from './csv-import.ts';
import { columnIndex } from './csv-import.ts';
import { FileDates } from './dates.ts';
import type { CsvRowMapper } from './csv-import.ts';

export function looksLikeEacTrace(header: string[]): boolean {
  const col = columnIndex(header);
  return col('origin_timestamp') >= 0 && col('sender_address') >= 0;
}

const EVIDENCE: readonly Evidence[] = Object.freeze([
  { fact: 'time', from: 'column origin_timestamp' },
  { fact: 'p1', from: 'column sender_address' },
  { fact: 'recipients', from: 'column recipient_status' },
  { fact: 'source IP', from: 'column original_client_ip (else client_ip)' },
  { fact: 'direction', from: 'column directionality' },
  { fact: 'connector', from: 'column connector_id' },
]);

function recipientsOf(status: string): string[] {
  return status.split(';').map((s) => s.split('##')[0].trim()).filter((s) => s.length > 0);
}

export const eacTraceMapper: CsvMapperFactory = (header, file, options) => {
  const dates = new FileDates(options?.dateOrder ?? null);
  const col = columnIndex(header);
  const i = {
    time: col('origin_timestamp'), sender: col('sender_address'), rcpt: col('recipient_status'),
    subject: col('message_subject'), messageId: col('message_id'), origIp: col('original_client_ip'),
    clientIp: col('client_ip'), host: col('client_hostname'), dir: col('directionality'), connector: col('connector_id'),
  };
  if (i.time < 0 || i.sender < 0) return 'not an EAC trace header: needs origin_timestamp, sender_address';
  const get = (f: string[], idx: number): string | null => (idx >= 0 && f[idx] !== '' ? f[idx] : null);
  const map: CsvRowMapper = (f, line) => {
    const time = dates.parse(f[i.time]);
    if (typeof time === 'object') return `field origin_timestamp: ${JSON.stringify(f[i.time].slice(0, 40))} ${time.refused}`;
    const timeMs = typeof time === 'number' ? time : null;
    const row: ReportRow = emptyRow({ file, line, format: 'eac-trace' }, EVIDENCE);
    row.timeMs = timeMs;
    row.p1 = f[i.sender];
    row.recipients = i.rcpt >= 0 ? recipientsOf(f[i.rcpt]) : [];
    row.subject = get(f, i.subject);
    row.messageId = get(f, i.messageId);
    row.sourceIp = get(f, i.origIp) ?? get(f, i.clientIp);
    row.helo = get(f, i.host);
    const dir = get(f, i.dir)?.toLowerCase();
    row.direction = dir === 'incoming' ? 'inbound' : dir === 'originating' ? 'outbound' : null;
    row.connector = get(f, i.connector);
    return row;
  };
  map.dates = dates;
  return map;
};
