// Issue 17: locale export dates (`11/21/2026 3:04:05 PM`, `21.11.2026 15:04`) are read by hand
// instead of by a regular expression and a Date object per row. The answer must be exactly the
// old one: the old reader is kept here verbatim as the oracle and both are run on generated
// values that are mostly near-dates (every field's width, separators, spaces, meridiems, days a
// month lacks, leap years, years below 100, leap seconds) and on arbitrary text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FileDates, readLocaleDate, readLocaleDateByPattern } from '../../src/report/import/dates.ts';
import type { LocaleDate } from '../../src/report/import/dates.ts';

/** The reader before the change (commit 91ab744), copied unchanged. */
const OLD_PATTERN = /^(\d{1,2})([/.])(\d{1,2})\2(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]\.?M\.?)?$/i;
function oldLocaleMs(year: number, month: number, day: number, hour: number, minute: number, second: number, meridiem: string | undefined): number | null {
  if (meridiem) {
    if (hour < 1 || hour > 12) return null;
    const pm = meridiem[0].toUpperCase() === 'P';
    if (!pm && hour === 12) hour = 0;
    if (pm && hour !== 12) hour += 12;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return new Date(ms).getUTCDate() === day ? ms : null;
}
function oldReadLocaleDate(s: string): LocaleDate | null {
  const m = OLD_PATTERN.exec(s);
  if (!m) return null;
  const a = Number(m[1]);
  const b = Number(m[3]);
  const rest = [Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7] ?? 0)] as const;
  const dotted = m[2] === '.';
  const dmy = oldLocaleMs(rest[0], b, a, rest[1], rest[2], rest[3], m[8]);
  const mdy = dotted ? null : oldLocaleMs(rest[0], a, b, rest[1], rest[2], rest[3], m[8]);
  return { mdy, dmy, dotted };
}

const digits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.integer({ min: 0, max: 10 ** max - 1 }).map((n) => String(n).padStart(min, '0')),
    fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '9'), minLength: min, maxLength: max }),
  );
const pick = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);

/** Mostly well-formed locale timestamps, each part sometimes a little wrong. */
const nearDate = fc.tuple(
  digits(1, 3), pick('/', '.', '-', '/'), digits(1, 3), pick('/', '.', '-'),
  fc.oneof(digits(4, 4), digits(2, 5), pick('2024', '2026', '2100', '2000', '1900', '0000', '0004', '0096', '0100')),
  pick('', ','), pick(' ', '  ', '', '\t', '\u00a0', ' \t'),
  digits(1, 3), pick(':', ':', '.'), digits(2, 3),
  fc.option(fc.tuple(pick(':', ':', '.'), fc.oneof(digits(2, 2), digits(1, 3), pick('59', '60', '61')))),
  pick('', ' ', '  ', '\t'),
  pick('', 'AM', 'PM', 'am', 'pm', 'A.M.', 'p.m', 'aM', 'P.M', 'PX', 'AMZ', 'M', 'A', '\u212a'),
  pick('', '', '', ' ', 'x', '0'),
).map((p) => {
  const [a, s1, b, s2, year, comma, gap, hour, c1, minute, sec, gap2, mer, tail] = p;
  return `${a}${s1}${b}${s2}${year}${comma}${gap}${hour}${c1}${minute}${sec ? sec[0] + sec[1] : ''}${gap2}${mer}${tail}`;
});

/** Valid dates of every day and time, including 23:59:60 and 29 February. */
const realDate = fc.tuple(
  fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }),
  fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 60 }),
  fc.boolean(), fc.boolean(), fc.boolean(),
).map(([y, mo, d, h, mi, s, twelve, dayFirst, dotted]) => {
  const two = (n: number): string => String(n).padStart(2, '0');
  const date = dotted ? `${d}.${mo}.${String(y).padStart(4, '0')}` : dayFirst ? `${d}/${mo}/${String(y).padStart(4, '0')}` : `${mo}/${d}/${String(y).padStart(4, '0')}`;
  const time = twelve ? `${h % 12 || 12}:${two(mi)}:${two(s)} ${h < 12 ? 'AM' : 'PM'}` : `${h}:${two(mi)}:${two(s)}`;
  return `${date} ${time}`;
});

test('the hand reader gives exactly the old reader\'s answer on near-dates, real dates and any text', () => {
  const same = (s: string): void => {
    assert.deepEqual(readLocaleDate(s), oldReadLocaleDate(s), JSON.stringify(s));
    assert.deepEqual(readLocaleDateByPattern(s), oldReadLocaleDate(s), JSON.stringify(s));
  };
  fc.assert(fc.property(nearDate, (s) => same(s)), { numRuns: 100_000 });
  fc.assert(fc.property(realDate, (s) => same(s)), { numRuns: 100_000 });
  fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => same(s)), { numRuns: 20_000 });
  for (const s of ['2/29/2024 12:00:00 AM', '2/29/2026 1:00 PM', '2/29/0000 0:00', '2/29/0004 0:00', '31.4.2026 10:00',
    '12/31/2026 23:59:60', '12/31/2026 11:59:60 PM', '1/1/2026, 12:00:00 PM', '13/13/2026 0:00', '1/1/2026 0:00 AM']) same(s);
});

test('a file\'s dates read through the hand reader decide their order and refuse as before', () => {
  const dates = new FileDates(null);
  assert.equal(dates.parse('11/21/2026 3:04:05 PM'), Date.UTC(2026, 10, 21, 15, 4, 5));
  assert.equal(dates.order, 'mdy');
  assert.equal(dates.parse('11/5/2026 12:00:00 AM'), Date.UTC(2026, 10, 5, 0, 0, 0));
  assert.deepEqual(dates.parse('2/30/2026 1:00:00 AM'), { refused: 'is not a date' });
  assert.equal(new FileDates(null).parse('21.11.2026 15:04'), Date.UTC(2026, 10, 21, 15, 4));
});
