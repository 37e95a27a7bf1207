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

// Exports are sorted by time, so consecutive rows share the hour. The hour is compared as a
// number read from its digits (YYYYMMDDHH), not as text: PowerShell's files mix `T` and a space
// between date and time, and a text key changed on every switch (a slice, a copy and a lookup
// per row). The separator never changed the answer (the cache's computation drops it).
let lastHourNumber = -1;
let lastHourMs = 0;

/** The digits of `YYYY-MM-DD?HH` as one number, or -1 when one of them is not a digit. */
function hourNumber(s: string): number {
  let n = 0;
  for (let i = 0; i < 13; i++) {
    if (i === 4 || i === 7 || i === 10) continue;
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
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
  const hour = hourNumber(s);
  if (hour >= 0 && hour === lastHourNumber) hourMs = lastHourMs;
  else {
    const key = s.slice(0, 13);
    hourMs = cachedHour(key, () => Date.parse(`${key.slice(0, 10)}T${key.slice(11, 13)}:00:00Z`));
    if (Number.isNaN(hourMs)) return null;
    // Only an all-digit hour is remembered (-1 never matches): other text takes this path each time.
    lastHourNumber = hour;
    lastHourMs = hourMs;
  }
  return hourMs + minute * 60_000 + second * 1000 + Math.floor(fractionMs);
}

/** `A/B/YYYY` or `D.M.YYYY`, then `h:mm[:ss]` and an optional AM/PM: en-US, en-GB, de-DE and kin. */
const LOCALE_DATE = /^(\d{1,2})([/.])(\d{1,2})\2(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]\.?M\.?)?$/i;

export type DateOrder = 'mdy' | 'dmy';

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether Date.UTC keeps `day` as the day of the month: false for days a month lacks (2/31,
 * which it rolls into March) and for 23:59:60 (a leap second it rolls into the next day).
 * Date.UTC takes years 0 to 99 as 1900 to 1999, so their leap years are those years'.
 */
function dayKept(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  const y = year < 100 ? 1900 + year : year;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const last = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  return day <= last && !(hour === 23 && minute === 59 && second === 60);
}

/** `pm`: 1 for PM, 0 for AM, -1 for none (24-hour clock). */
function localeMs(year: number, month: number, day: number, hour: number, minute: number, second: number, pm: number): number | null {
  if (pm >= 0) {
    if (hour < 1 || hour > 12) return null;
    if (pm === 0 && hour === 12) hour = 0;
    if (pm === 1 && hour !== 12) hour += 12;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  // Checked without a Date object per row (it showed in the profile): Date.UTC alone makes no object.
  return dayKept(year, month, day, hour, minute, second) ? Date.UTC(year, month - 1, day, hour, minute, second) : null;
}

/** A slashed or dotted date read both ways; dotted dates are always day first (de-DE and kin). */
export interface LocaleDate { mdy: number | null; dmy: number | null; dotted: boolean }

function bothWays(a: number, b: number, dotted: boolean, year: number, hour: number, minute: number, second: number, pm: number): LocaleDate {
  const dmy = localeMs(year, b, a, hour, minute, second, pm);
  const mdy = dotted ? null : localeMs(year, a, b, hour, minute, second, pm);
  return { mdy, dmy, dotted };
}

/** The pattern's reading (LOCALE_DATE): the reference the hand reader below must agree with. */
export function readLocaleDateByPattern(s: string): LocaleDate | null {
  const m = LOCALE_DATE.exec(s);
  if (!m) return null;
  const pm = m[8] ? (m[8][0].toUpperCase() === 'P' ? 1 : 0) : -1;
  return bothWays(Number(m[1]), Number(m[3]), m[2] === '.', Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7] ?? 0), pm);
}

/**
 * The common shapes read by hand: `M/D/YYYY h:mm[:ss] [AM|PM]`, dotted too, ASCII spaces only.
 * A regular expression per row cost about a tenth of a row's time (issue 17). Returns undefined
 * for anything else, which the pattern then reads, so the two never disagree (property test).
 */
function readLocaleDateByHand(s: string): LocaleDate | undefined {
  const len = s.length;
  let i = 0;
  const num = (most: number): number => {
    let v = -1;
    for (let n = 0; n < most && i < len; n++, i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v < 0 ? d : v * 10 + d;
    }
    return v;
  };
  const a = num(2);
  const sep = s.charCodeAt(i);
  if (a < 0 || (sep !== 47 && sep !== 46)) return undefined;
  i++;
  const b = num(2);
  if (b < 0 || s.charCodeAt(i++) !== sep) return undefined;
  const yearAt = i;
  const year = num(4);
  if (i - yearAt !== 4) return undefined;
  if (s.charCodeAt(i) === 44) i++;
  const spaceAt = i;
  while (s.charCodeAt(i) === 32) i++;
  if (i === spaceAt) return undefined;
  const hour = num(2);
  if (hour < 0 || s.charCodeAt(i++) !== 58) return undefined;
  const minuteAt = i;
  const minute = num(2);
  if (i - minuteAt !== 2) return undefined;
  let second = 0;
  if (s.charCodeAt(i) === 58) {
    i++;
    const secondAt = i;
    second = num(2);
    if (i - secondAt !== 2) return undefined;
  }
  while (s.charCodeAt(i) === 32) i++;
  let pm = -1;
  if (i < len) {
    const c = s.charCodeAt(i) | 32;
    if (c !== 97 && c !== 112) return undefined;
    pm = c === 112 ? 1 : 0;
    i++;
    if (s.charCodeAt(i) === 46) i++;
    if ((s.charCodeAt(i) | 32) !== 109) return undefined;
    i++;
    if (s.charCodeAt(i) === 46) i++;
    if (i !== len) return undefined;
  }
  return bothWays(a, b, sep === 46, year, hour, minute, second, pm);
}

export function readLocaleDate(s: string): LocaleDate | null {
  return readLocaleDateByHand(s) ?? readLocaleDateByPattern(s);
}

/** Epoch ms, or null when the text is not a timestamp we can read (slashed dates month first). */
export function parseExportTime(text: string): number | null {
  const r = MONTH_FIRST.parse(text);
  return typeof r === 'number' ? r : null;
}

/** Why a value was not read: not a date, or a date this file's order cannot hold. */
export interface DateRefusal { refused: string }

/**
 * The date order of one file (issue 12). PowerShell's Export-Csv writes dates in the session's
 * culture, so `05/11/2026` is 11 May in en-US and 5 November in en-GB. The order is decided by
 * the file's own values: a first field above 12 is day first, a second above 12 month first;
 * dotted dates are day first. Until a value decides, a date that reads both ways is AMBIGUOUS
 * and the caller holds its row back; a file that never decides is refused (never a guess).
 */
export class FileDates {
  readonly forced: DateOrder | null;
  order: DateOrder | null;
  /** The value and line that decided the order, for messages. */
  decidedBy: string | null = null;
  /** The raw text of the last ambiguous value, taken by the caller with takeAmbiguous(). */
  #ambiguous: string | null = null;

  constructor(forced: DateOrder | null) {
    this.forced = forced;
    this.order = forced;
  }

  takeAmbiguous(): string | null {
    const a = this.#ambiguous;
    this.#ambiguous = null;
    return a;
  }

  /** ms; AMBIGUOUS (row to be held); or why the value cannot be read. */
  parse(text: string): number | typeof AMBIGUOUS | DateRefusal {
    const s = text.trim();
    if (!s) return { refused: 'is empty' };
    const iso = parseIsoUtc(s);
    if (iso !== null) return iso;
    const local = s.indexOf('/') > 0 || s.indexOf('.') > 0 ? readLocaleDate(s) : null;
    if (local) return this.#pick(s, local);
    if (/^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}/.test(s)) return { refused: 'is not a date' };
    const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$|GMT|UTC/.test(s) ? s : `${s} UTC`);
    return Number.isNaN(ms) ? { refused: 'is not a date' } : ms;
  }

  #pick(s: string, d: LocaleDate): number | typeof AMBIGUOUS | DateRefusal {
    if (d.dotted) return d.dmy ?? { refused: 'is not a date (day.month.year)' };
    if (this.order) {
      const ms = this.order === 'mdy' ? d.mdy : d.dmy;
      if (ms !== null) return ms;
      const other = this.order === 'mdy' ? d.dmy : d.mdy;
      const how = this.order === 'mdy' ? 'month first' : 'day first';
      if (other === null) return { refused: 'is not a date' };
      return { refused: this.forced
        ? `is not a date ${how} (--date-format ${this.forced})`
        : `contradicts this file's ${how} order (decided by ${JSON.stringify(this.decidedBy)}); pass --date-format to choose` };
    }
    if (d.mdy !== null && d.dmy !== null) {
      if (d.mdy === d.dmy) return d.mdy;
      this.#ambiguous = s;
      return AMBIGUOUS;
    }
    if (d.mdy === null && d.dmy === null) return { refused: 'is not a date' };
    this.order = d.dmy !== null ? 'dmy' : 'mdy';
    this.decidedBy = s.slice(0, 40);
    return (d.dmy ?? d.mdy)!;
  }
}

export const AMBIGUOUS: unique symbol = Symbol('ambiguous date');

/** The message for a file whose dates never decided their order. */
export function ambiguousFileMessage(example: string, rows: number): string {
  return `${rows} row(s) not read: dates such as ${JSON.stringify(example.slice(0, 40))} read as month first (en-US) or day first (en-GB, de-DE) and no date in the file decides; pass --date-format mdy or --date-format dmy`;
}

/** A forced order never changes, so one instance serves every caller of parseExportTime. */
const MONTH_FIRST = new FileDates('mdy');
