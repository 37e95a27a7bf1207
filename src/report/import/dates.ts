// Export timestamps -> epoch ms. Exports are dominated by ISO-8601 UTC and PowerShell's US-locale
// `11/21/2026 3:04:05 PM`; both are parsed by hand with an hour cache, since Date.parse per row
// costs more than the whole rest of a row on the fast path. Anything else goes to Date.parse.
// Times without a zone are taken as UTC (the exports' own convention for Received/Timestamp).

const hourCache = new Map<string, number>();
const MAX_CACHED_HOURS = 100_000;

function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1;
}

function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

function cachedHour(key: string, compute: () => number): number {
  let ms = hourCache.get(key);
  if (ms === undefined) {
    ms = compute();
    if (hourCache.size >= MAX_CACHED_HOURS) hourCache.clear();
    hourCache.set(key, ms);
  }
  return ms;
}

/** `YYYY-MM-DDTHH:MM[:SS[.fff]][Z]`, no offset; null when not of that shape. */
function parseIsoUtc(s: string): number | null {
  if (s.length < 16 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58) return null;
  const sep = s.charCodeAt(10);
  if (sep !== 84 && sep !== 32) return null;
  const tail = s.slice(16);
  if (tail !== '' && tail !== 'Z' && !/^:\d\d(?:\.\d+)?Z?$/.test(tail)) return null;
  const minute = two(s, 14);
  const second = tail.length >= 3 ? two(s, 17) : 0;
  if (minute < 0 || minute > 59 || second < 0 || second > 60) return null;
  const key = s.slice(0, 13);
  const hourMs = cachedHour(key, () => Date.parse(`${key.slice(0, 10)}T${key.slice(11, 13)}:00:00Z`));
  if (Number.isNaN(hourMs)) return null;
  const fraction = tail.length > 4 && tail.charCodeAt(3) === 46 ? Number(`0.${tail.slice(4).replace('Z', '')}`) * 1000 : 0;
  return hourMs + minute * 60_000 + second * 1000 + Math.floor(fraction);
}

const US_LOCALE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?$/i;

/** `M/D/YYYY h:mm[:ss] [AM|PM]` (PowerShell en-US). */
function parseUsLocale(s: string): number | null {
  const m = US_LOCALE.exec(s);
  if (!m) return null;
  let hour = Number(m[4]);
  const meridiem = m[7]?.toUpperCase();
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    if (meridiem === 'AM' && hour === 12) hour = 0;
    if (meridiem === 'PM' && hour !== 12) hour += 12;
  }
  const month = Number(m[1]);
  const day = Number(m[2]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) return null;
  const ms = Date.UTC(Number(m[3]), month - 1, day, hour, Number(m[5]), Number(m[6] ?? 0));
  // Date.UTC rolls 2/31 into March: reject dates that do not exist.
  return new Date(ms).getUTCDate() === day ? ms : null;
}

/** Epoch ms, or null when the text is not a timestamp we can read. */
export function parseExportTime(text: string): number | null {
  const s = text.trim();
  if (!s) return null;
  const iso = parseIsoUtc(s);
  if (iso !== null) return iso;
  if (s.indexOf('/') > 0) return parseUsLocale(s);
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$|GMT|UTC/.test(s) ? s : `${s} UTC`);
  return Number.isNaN(ms) ? null : ms;
}
