// Issue 12: export dates in the culture that wrote them. The order is decided per file (a first
// field above 12 is day first; dotted dates are day first), rows wait until it is decided, a file
// that never decides is refused naming --date-format, and a run that read nothing says so first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AMBIGUOUS, FileDates } from '../../src/report/import/dates.ts';
import { importInput } from '../../src/report/import/detect-input.ts';
import { fileInput } from '../../src/report/import/text-input.ts';
import type { DateOrder } from '../../src/report/import/dates.ts';
import { mxward } from '../helpers/commands.ts';
import { importFileParallel } from '../../src/report/import/parallel-import.ts';
import { ReportRun } from '../../src/report/build-report.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { CollectingSink } from './helpers.ts';

const trust = (name: string): string => fileURLToPath(new URL(`../fixtures/report-trust/${name}`, import.meta.url));
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().slice(0, 19));

async function read(name: string, dateOrder: DateOrder | null = null) {
  const sink = new CollectingSink();
  await importInput(fileInput(trust(name)), sink, { dateOrder });
  return { times: sink.collected.map((r) => iso(r.timeMs)), lines: sink.collected.map((r) => r.origin.line), problems: sink.problems.map((p) => `${p.line}: ${p.message}`) };
}

const NOVEMBER = ['2026-11-05T09:00:00', '2026-11-06T00:30:00', '2026-11-25T18:19:44', '2026-11-07T12:05:00'];

test('en-US (AM/PM), en-GB and de-DE (24 h) and ISO files all read as the same November days, in row order', async () => {
  for (const name of ['dates-en-us.csv', 'dates-en-gb.csv', 'dates-de-de.csv', 'dates-iso.csv']) {
    const r = await read(name);
    assert.deepEqual(r.problems, [], name);
    assert.deepEqual(r.times, NOVEMBER, `${name}: 05/11 and 11/05 are never read as 11 May`);
    assert.deepEqual(r.lines, [2, 3, 4, 5], `${name}: rows held back keep their order`);
  }
});

test('a file whose dates all read both ways is refused, naming --date-format; forcing the order reads it', async () => {
  const refused = await read('dates-ambiguous.csv');
  assert.deepEqual(refused.times, []);
  assert.deepEqual(refused.problems, ['2: 3 row(s) not read: dates such as "05/11/2026 09:00:00" read as month first (en-US) or day first (en-GB, de-DE) and no date in the file decides; pass --date-format mdy or --date-format dmy']);
  assert.deepEqual((await read('dates-ambiguous.csv', 'dmy')).times, ['2026-11-05T09:00:00', '2026-11-06T00:30:00', '2026-11-07T12:05:00']);
  assert.deepEqual((await read('dates-ambiguous.csv', 'mdy')).times, ['2026-05-11T09:00:00', '2026-06-11T00:30:00', '2026-07-11T12:05:00']);
});

test('a forced order that a value cannot have, and a value against the file\'s own order, are row problems', async () => {
  const forced = await read('dates-en-gb.csv', 'mdy');
  assert.deepEqual(forced.problems, ['4: field Received: "25/11/2026 18:19:44" is not a date month first (--date-format mdy): row skipped']);
  const mixed = await read('dates-contradiction.csv');
  assert.deepEqual(mixed.times, ['2026-11-25T18:19:44', '2026-11-05T09:00:00']);
  assert.match(mixed.problems[0], /^3: field Received: "25\/11\/2026 18:19:44" contradicts this file's month first order \(decided by "11\/25\/2026 6:19:44 PM"\); pass --date-format to choose: row skipped$/);
});

test('FileDates: 12 AM/PM, impossible days, dotted day first whatever is forced', () => {
  const d = new FileDates(null);
  assert.equal(d.parse('03/04/2026 1:00 PM'), AMBIGUOUS);
  assert.equal(d.takeAmbiguous(), '03/04/2026 1:00 PM');
  assert.equal(d.parse('04/04/2026 12:00 AM'), Date.UTC(2026, 3, 4, 0, 0), 'the same either way: no need to wait');
  assert.deepEqual(d.parse('02/30/2026 10:00'), { refused: 'is not a date' });
  assert.equal(d.order, null);
  assert.equal(new FileDates('mdy').parse('25.11.2026 18:19'), Date.UTC(2026, 10, 25, 18, 19));
  assert.deepEqual(new FileDates(null).parse('13/45/2026 99:00:00 PM'), { refused: 'is not a date' });
});

test('CLI: --date-format reads an ambiguous file; a run that read nothing says so in the headline', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-dates-'));
  try {
    const refused = await mxward(dataDir, ['report', trust('dates-ambiguous.csv'), '--accepted-domain', 'contoso.com']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pass --date-format mdy or --date-format dmy/);
    const lines = refused.stdout.split('\n');
    assert.match(lines[2], /^Nothing was read: every row or file was skipped \(1 problem\), so this report cannot say what enforcing would do\.$/);
    assert.match(refused.stdout, /dates-ambiguous\.csv: not read, all of it skipped/);
    assert.doesNotMatch(refused.stdout, /would reject 0/);
    const forced = await mxward(dataDir, ['report', trust('dates-ambiguous.csv'), '--accepted-domain', 'contoso.com', '--date-format', 'dmy', '--format', 'json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(forced.stdout).totals.firstSeen, '2026-11-05T09:00:00.000Z');
    const partly = await mxward(dataDir, ['report', trust('dates-ambiguous.csv'), trust('dates-iso.csv'), '--accepted-domain', 'contoso.com']);
    assert.match(partly.stdout, /would stop 1 attack or unknown source \(4 messages\)/);
    assert.match(partly.stdout, /dates-ambiguous\.csv: not read, all of it skipped \(1 problem/);
    const bad = await mxward(dataDir, ['report', trust('dates-iso.csv'), '--date-format', 'ymd']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--date-format: expected mdy .* or dmy/);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a big file with locale dates is read in one pass (its order needs the whole file) unless --date-format names it', async () => {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  const run = (dateOrder: DateOrder | null) => new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: 0, dateOrder });
  const opts = { minBytes: 1, threads: 2 };
  assert.deepEqual(await importFileParallel(trust('dates-en-gb.csv'), 'gb', run(null), opts), { parallel: false, reason: 'locale dates: their order is decided over the whole file' });
  const forced = run('dmy');
  assert.deepEqual(await importFileParallel(trust('dates-en-gb.csv'), 'gb', forced, opts), { parallel: true, ranges: 2 });
  assert.equal(forced.finish().totals.firstSeen, '2026-11-05T09:00:00.000Z');
  assert.equal((await importFileParallel(trust('dates-iso.csv'), 'iso', run(null), opts)).parallel, true);
});
