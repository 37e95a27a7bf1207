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
    // A flat copy: the key is a slice of a 1 MiB input chunk and would keep it alive.
    hourCache.set(JSON.parse(JSON.stringify(key)) as string, ms);
  }
  return ms;
}

// Exports are sorted by time, so consecutive rows share the hour: compare in place, no slice.
let lastHourKey: string | null = null;
let lastHourMs = 0;

/** `key` is the 13-character `YYYY-MM-DDTHH` (a builtin compare beats a charCodeAt loop). */
function sameHour(s: string, key: string): boolean {
  return s.startsWith(key);
}

/** `YYYY-MM-DDTHH:MM[:SS[.fff]][Z]`, no offset; null when not of that shape. */
function parseIsoUtc(s: string): number | null {
  if (s.length < 16 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58) return null;
  const sep = s.charCodeAt(10);
  if (sep !== 84 && sep !== 32) return null;
  // Tail after HH:MM, checked by hand (a regex per row showed in the profile): `[:SS[.f+]][Z]`.
  const len = s.length;
  const end = s.charCodeAt(len - 1) === 90 ? len - 1 : len;
  let second = 0;
  let fractionMs = 0;
  if (end > 16) {
    if (s.charCodeAt(16) !== 58 || end < 19) return null;
    second = two(s, 17);
    if (end > 19) {
      if (s.charCodeAt(19) !== 46 || end === 20) return null;
      let scale = 100;
      for (let i = 20; i < end; i++) {
        const d = digit(s, i);
        if (d < 0) return null;
        fractionMs += d * scale;
        scale /= 10;
      }
    }
  } else if (end !== 16) return null;
  const minute = two(s, 14);
  if (minute < 0 || minute > 59 || second < 0 || second > 60) return null;
  let hourMs: number;
  if (lastHourKey !== null && sameHour(s, lastHourKey)) hourMs = lastHourMs;
  else {
    const key = s.slice(0, 13);
    hourMs = cachedHour(key, () => Date.parse(`${key.slice(0, 10)}T${key.slice(11, 13)}:00:00Z`));
    if (Number.isNaN(hourMs)) return null;
    lastHourKey = JSON.parse(JSON.stringify(key)) as string;
    lastHourMs = hourMs;
  }
  return hourMs + minute * 60_000 + second * 1000 + Math.floor(fractionMs);
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
