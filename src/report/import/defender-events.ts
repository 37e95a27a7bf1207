// Defender advanced hunting `EmailEvents` exports (SPEC §8): the portal's CSV download and the
// API's JSON (an array, `{ "Results": [...] }`, or one object per line). AuthenticationDetails is
// a JSON object in a string column: {"SPF":"pass","DKIM":"none","DMARC":"fail","CompAuth":"fail"}.
import type { Evidence, ReportRow } from '../types.ts';
import { emptyRow } from '../types.ts';
import type { CsvMapperFactory } from './csv-import.ts';
import { columnIndex } from './csv-import.ts';
import { AMBIGUOUS, FileDates } from './dates.ts';
import type { DateOrder } from './dates.ts';
import type { CsvRowMapper } from './csv-import.ts';

export const DEFENDER_REQUIRED = ['Timestamp', 'SenderMailFromAddress', 'RecipientEmailAddress'] as const;

export function looksLikeDefenderEvents(header: string[]): boolean {
  const col = columnIndex(header);
  return col('networkmessageid') >= 0 || col('sendermailfromaddress') >= 0 || col('authenticationdetails') >= 0;
}

const EVIDENCE: readonly Evidence[] = Object.freeze([
  { fact: 'time', from: 'column Timestamp' },
  { fact: 'p1', from: 'column SenderMailFromAddress' },
  { fact: 'p2', from: 'column SenderFromAddress' },
  { fact: 'source IP', from: 'column SenderIPv4 (else SenderIPv6)' },
  { fact: 'connector', from: 'column Connectors (empty = no connector: the Direct Send hunting rule)' },
  { fact: 'authentication', from: 'column AuthenticationDetails' },
  { fact: 'direction', from: 'column EmailDirection' },
  { fact: 'verdict', from: 'columns DeliveryAction and ThreatTypes' },
]);

/**
 * Defender's Direct Send hunting query matches Connectors empty with a sender IP present (issue
 * 18): such rows carry the signature as evidence. Frozen and shared, so 5M rows cost no arrays.
 */
const HUNTING_SIGNATURE: Evidence = { fact: 'Direct Send signature (Defender hunting)', from: 'columns Connectors (empty) and SenderIPv4/SenderIPv6 (present)' };
const EVIDENCE_WITH_SIGNATURE: readonly Evidence[] = Object.freeze([...EVIDENCE, HUNTING_SIGNATURE]);

type Fields = Record<string, string | null>;

interface AuthDetails { spf: string | null; dkim: string | null; dmarc: string | null; compauth: string | null }

/** The AuthenticationDetails cell; a string when it is present but not readable. */
function parseAuthDetails(text: string | null): AuthDetails | string {
  const none: AuthDetails = { spf: null, dkim: null, dmarc: null, compauth: null };
  if (text === null || text.trim() === '') return none;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `field AuthenticationDetails: not JSON (${JSON.stringify(text.slice(0, 40))})`;
  }
  if (typeof value !== 'object' || value === null) return 'field AuthenticationDetails: not a JSON object';
  const o = value as Record<string, unknown>;
  const pick = (k: string): string | null => {
    const key = Object.keys(o).find((x) => x.toLowerCase() === k);
    const v = key === undefined ? null : o[key];
    return typeof v === 'string' && v !== '' ? v.toLowerCase() : null;
  };
  return { spf: pick('spf'), dkim: pick('dkim'), dmarc: pick('dmarc'), compauth: pick('compauth') };
}

function directionOf(value: string | null): ReportRow['direction'] {
  const v = value?.toLowerCase();
  if (v === 'inbound') return 'inbound';
  if (v === 'outbound') return 'outbound';
  if (v === 'intra-org' || v === 'intraorg') return 'intra-org';
  return null;
}

/** One EmailEvents record, by column name (case-insensitive lookup already done by the caller). */
export function defenderRow(get: Fields, file: string, line: number, dates: FileDates = new FileDates(null)): ReportRow | string {
  const rawTime = get.timestamp ?? '';
  const time = dates.parse(rawTime);
  if (typeof time === 'object') return `field Timestamp: ${JSON.stringify(rawTime.slice(0, 40))} ${time.refused}`;
  const timeMs = time === AMBIGUOUS ? null : time;
  const auth = parseAuthDetails(get.authenticationdetails);
  if (typeof auth === 'string') return auth;
  const row = emptyRow({ file, line, format: 'defender-emailevents' }, EVIDENCE);
  row.timeMs = timeMs;
  row.p1 = get.sendermailfromaddress ?? (get.sendermailfromdomain ? `@${get.sendermailfromdomain}` : null);
  const p2 = get.senderfromaddress ?? (get.senderfromdomain ? `@${get.senderfromdomain}` : null);
  row.p2 = p2 ? [p2] : [];
  row.recipients = get.recipientemailaddress ? [get.recipientemailaddress] : [];
  row.subject = get.subject;
  row.messageId = get.internetmessageid ?? get.networkmessageid;
  row.sourceIp = get.senderipv4 ?? get.senderipv6;
  // The hunting rule reads an empty Connectors as "no connector"; keep '' so classify can tell
  // "this export says none" from "this export has no such column" (null).
  row.connector = 'connectors' in get ? (get.connectors ?? '') : null;
  if (row.connector === '' && row.sourceIp) row.evidence = EVIDENCE_WITH_SIGNATURE;
  row.spf = auth.spf;
  row.dkim = auth.dkim;
  row.dmarc = auth.dmarc;
  row.compauth = auth.compauth;
  row.direction = directionOf(get.emaildirection);
  row.status = get.deliveryaction;
  row.threats = get.threattypes;
  return row;
}

const COLUMNS = ['timestamp', 'networkmessageid', 'internetmessageid', 'sendermailfromaddress', 'sendermailfromdomain',
  'senderfromaddress', 'senderfromdomain', 'senderipv4', 'senderipv6', 'recipientemailaddress', 'subject',
  'emaildirection', 'deliveryaction', 'connectors', 'authenticationdetails', 'threattypes'] as const;

export const defenderCsvMapper: CsvMapperFactory = (header, file, options) => {
  const dates = new FileDates(options?.dateOrder ?? null);
  const col = columnIndex(header);
  const missing = DEFENDER_REQUIRED.filter((c) => col(c) < 0);
  if (missing.length) return `EmailEvents export is missing column ${missing.join(', ')}`;
  const index = COLUMNS.map((c) => [c, col(c)] as const).filter(([, i]) => i >= 0);
  const map: CsvRowMapper = (f, line) => {
    const get: Fields = {};
    for (const [name, i] of index) get[name] = f[i] === '' ? null : f[i];
    return defenderRow(get, file, line, dates);
  };
  map.dates = dates;
  return map;
};

/** A JSON record (any key case; API results may nest AuthenticationDetails as an object). */
export function defenderJsonRow(o: Record<string, unknown>, file: string, line: number, dateOrder: DateOrder | null = null): ReportRow | string {
  const get: Fields = {};
  for (const [key, value] of Object.entries(o)) {
    const k = key.toLowerCase();
    if (!(COLUMNS as readonly string[]).includes(k)) continue;
    get[k] = value === null || value === undefined || value === '' ? null
      : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  if (!get.timestamp && !get.sendermailfromaddress) return 'not an EmailEvents record (no Timestamp or SenderMailFromAddress)';
  if (Array.isArray(o.Connectors) || Array.isArray(o.connectors)) {
    const list = (o.Connectors ?? o.connectors) as unknown[];
    get.connectors = list.length ? list.map(String).join(',') : null;
  }
  const dates = new FileDates(dateOrder);
  const row = defenderRow(get, file, line, dates);
  if (typeof row !== 'string' && dates.takeAmbiguous() !== null) {
    return `field Timestamp: ${JSON.stringify((get.timestamp ?? '').slice(0, 40))} reads month first or day first; pass --date-format mdy or dmy`;
  }
  return row;
}
