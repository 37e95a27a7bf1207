// Issue 17, memory per source: a source's first subjects are packed in one string
// (source-subjects.ts). The reference is the list the report kept before: the first MAX_SUBJECTS
// distinct subjects in row order, each cut to 200 characters, and on a merge the main thread's
// followed by the worker's new ones. Subjects here hold what real ones can: control characters,
// the length characters themselves, non-Latin-1 text and surrogate pairs, lengths 0 to 250.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator, addRows } from '../../src/report/aggregate.ts';
import type { SourceStats } from '../../src/report/aggregate.ts';
import { Classifier } from '../../src/report/classify.ts';
import { mergeSources } from '../../src/report/merge-aggregate.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { NO_SUBJECTS } from '../../src/report/source-stats.ts';
import { emptyRow } from '../../src/report/types.ts';
import type { ReportRow } from '../../src/report/types.ts';

const MAX = 5;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296; };
}

const ALPHABET = ['a', 'Z', ' ', '"', ',', '\n', '\u0000', '\u0005', '\u00c8', '\u00e9', '\u2014', '\ud83d\ude00', String.fromCharCode(200), '\u00ff'];

/** A subject from a small pool (so some repeat), of any length up to 250. */
function subjectOf(rand: () => number): string {
  const kind = Math.floor(rand() * 4);
  if (kind === 0) return `Voicemail ${Math.floor(rand() * 6)}`;
  let text = '';
  const length = kind === 1 ? 195 + Math.floor(rand() * 55) : Math.floor(rand() * 12);
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return text;
}

/** What the report kept: the first MAX distinct subjects (cut to 200), in row order. */
function reference(subjects: Array<string | null>, start: string[] = []): string[] {
  const kept = [...start];
  for (const s of subjects) {
    if (!s || kept.length >= MAX) continue;
    const cut = s.length > 200 ? s.slice(0, 200) : s;
    if (!kept.includes(cut)) kept.push(cut);
  }
  return kept;
}

function rowsOf(ip: string, subjects: Array<string | null>): ReportRow[] {
  return subjects.map((subject, i) => {
    const row = emptyRow({ file: 't.csv', line: i + 1, format: 'message-trace-v2' }, []);
    row.sourceIp = ip;
    row.p1 = 'ceo@contoso.com';
    row.recipients = ['user@contoso.com'];
    row.subject = subject;
    row.timeMs = Date.UTC(2026, 10, 13) + i * 1000;
    return row;
  });
}

async function classifier(): Promise<Classifier> {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  return new Classifier(policy, Date.UTC(2026, 11, 1));
}

test('a source keeps the first distinct subjects of its rows, whatever characters they hold', async () => {
  const now = await classifier();
  const rand = rng(21);
  for (let round = 0; round < 400; round++) {
    const subjects = Array.from({ length: Math.floor(rand() * 12) }, () => (rand() < 0.1 ? null : subjectOf(rand)));
    const agg = new ReportAggregator((d) => now.isAccepted(d));
    addRows(rowsOf('198.18.0.9', subjects), now, null, agg);
    const s = agg.sources.get('198.18.0.9');
    assert.deepEqual(s?.subjects ?? [], reference(subjects), `round ${round}`);
  }
});

test("merging a worker's clone keeps the main thread's subjects, then the worker's new ones", async () => {
  const now = await classifier();
  const rand = rng(22);
  let emptyBoth = 0;
  for (let round = 0; round < 400; round++) {
    const first = Array.from({ length: Math.floor(rand() * 8) }, () => subjectOf(rand));
    const second = Array.from({ length: Math.floor(rand() * 8) }, () => subjectOf(rand));
    const main = new ReportAggregator((d) => now.isAccepted(d));
    const worker = new ReportAggregator((d) => now.isAccepted(d));
    // A source with rows but no subject, on either side, now and then.
    addRows(rowsOf('198.18.0.9', first.length ? first : [null]), now, null, main);
    addRows(rowsOf('198.18.0.9', second.length ? second : [null]), now, null, worker);
    mergeSources(main, structuredClone([...worker.sources]) as Array<[string, SourceStats]>);
    const merged = main.sources.get('198.18.0.9')!;
    assert.deepEqual(merged.subjects, reference(second, reference(first)), `round ${round}`);
    if (!first.length && !second.length) { emptyBoth++; assert.equal(merged.subjects, NO_SUBJECTS); }
    // A source only the worker had is the worker's.
    const fresh = new ReportAggregator((d) => now.isAccepted(d));
    mergeSources(fresh, structuredClone([...worker.sources]) as Array<[string, SourceStats]>);
    assert.deepEqual(fresh.sources.get('198.18.0.9')!.subjects, reference(second), `round ${round}, adopted`);
  }
  assert.ok(emptyBoth > 0, 'some sources had no subject on either side');
});
