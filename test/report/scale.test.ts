// Issue 17: a report over an input with thousands of distinct sources, recipients and subjects
// (the bench generator: escaped quotes, four date formats) counts what an independent engine
// counts, keeps bounded state per source, and reads the same in parallel as in one pass.
// Correctness only; bench/report/run.ts measures time and memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { BENCH_CONNECTOR_CIDR, generateTrace } from '../../bench/report/generate.ts';
import { MAX_SAMPLE_MESSAGES, MAX_SUBJECTS } from '../../src/report/aggregate.ts';
import { ReportRun } from '../../src/report/build-report.ts';
import { EXACT_LIMIT } from '../../src/report/distinct.ts';
import { importInput } from '../../src/report/import/detect-input.ts';
import { importFileParallel } from '../../src/report/import/parallel-import.ts';
import { fileInput } from '../../src/report/import/text-input.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { RECENT_MESSAGES } from '../../src/report/source-signals.ts';
import { COUNTER_CAPS, COUNTER_FIELDS } from '../../src/report/source-stats.ts';

const ROWS = 200_000;

async function setUp(): Promise<{ dir: string; file: string; connectors: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-report-scale-'));
  const file = join(dir, 'trace.csv');
  // 20 printers: each sends to more recipients than are counted exactly (the sketch is used).
  await generateTrace(file, ROWS, { printers: 20 });
  const connectors = join(dir, 'connectors.json');
  writeFileSync(connectors, JSON.stringify([{ Name: 'CRM', ConnectorType: 'Partner', SenderIPAddresses: [BENCH_CONNECTOR_CIDR], SenderDomains: ['smtp:contoso.com;1'], RestrictDomainsToIPAddresses: true }]));
  return { dir, file, connectors };
}

async function newRun(connectors: string): Promise<ReportRun> {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [connectors], stored: null });
  return new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: Date.UTC(2026, 11, 1) });
}

interface Expected { rows: number; recipients: number; first: number; last: number }

/**
 * Per Direct Send source (our P1 domain, a source IP, a recipient of ours, outside the connector's
 * 192.0.2.16/28): rows, distinct recipients, first and last time, counted by DuckDB from the CSV.
 */
async function duckdbCounts(file: string): Promise<{ kinds: Map<string, number>; sources: Map<string, Expected> }> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const csv = `read_csv('${file.replace(/'/g, "''")}', skip = 1, header = true, quote = '"', escape = '"', all_varchar = true)`;
    const t = `SELECT coalesce(try_cast(Received AS TIMESTAMP), try_strptime(Received, '%m/%d/%Y %I:%M:%S %p')) AS ts, lower(RecipientAddress) AS rcpt, FromIP AS ip,
        CASE
          WHEN FromIP IS NULL OR FromIP = '' THEN 'internal'
          WHEN lower(split_part(SenderAddress, '@', 2)) = 'contoso.com' AND lower(split_part(RecipientAddress, '@', 2)) <> 'contoso.com' THEN 'internal'
          WHEN FromIP LIKE '192.0.2.%' AND CAST(split_part(FromIP, '.', 4) AS INTEGER) BETWEEN 16 AND 31 THEN 'connector'
          WHEN lower(split_part(SenderAddress, '@', 2)) = 'contoso.com' THEN 'direct-send'
          ELSE 'external'
        END AS kind FROM ${csv}`;
    const kinds = new Map<string, number>();
    for (const r of (await conn.runAndReadAll(`SELECT kind, count(*) AS n FROM (${t}) GROUP BY kind`)).getRowObjects()) kinds.set(String(r.kind), Number(r.n));
    const sources = new Map<string, Expected>();
    const rows = (await conn.runAndReadAll(`SELECT ip, count(*) AS n, count(DISTINCT rcpt) AS r, epoch_ms(min(ts)) AS first_ms, epoch_ms(max(ts)) AS last_ms FROM (${t}) WHERE kind = 'direct-send' GROUP BY ip`)).getRowObjects();
    for (const r of rows) sources.set(String(r.ip), { rows: Number(r.n), recipients: Number(r.r), first: Number(r.first_ms), last: Number(r.last_ms) });
    return { kinds, sources };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

test('thousands of Direct Send sources: per-source counts agree with DuckDB, state per source stays bounded', async (t) => {
  const { dir, file, connectors } = await setUp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = await newRun(connectors);
  const outcome = await importFileParallel(file, file, run, { threads: 2, minBytes: 0 });
  assert.equal(outcome.parallel, true, 'the file is read in parallel, with no fallback to a second pass');
  const expected = await duckdbCounts(file);
  const model = run.finish();

  assert.equal(model.problems.count, 0);
  assert.equal(model.totals.rows, ROWS);
  for (const [kind, n] of expected.kinds) assert.equal(model.totals.kinds[kind as keyof typeof model.totals.kinds], n, `rows of kind ${kind}`);
  assert.ok(expected.sources.size > 5000, `the input has thousands of Direct Send sources (${expected.sources.size})`);
  const reported = new Map(model.sources.map((s) => [s.key, s]));
  assert.equal(model.sources.filter((s) => s.kinds['direct-send'] > 0).length, expected.sources.size, 'one report entry per Direct Send source, none folded');
  let estimated = 0;
  for (const [ip, e] of expected.sources) {
    const s = reported.get(ip);
    assert.ok(s, `source ${ip} reported`);
    assert.equal(s.rows, e.rows, `${ip}: rows`);
    assert.equal(s.wouldReject, e.rows, `${ip}: every row would be rejected`);
    assert.equal(s.firstSeen, new Date(e.first).toISOString(), `${ip}: first seen`);
    assert.equal(s.lastSeen, new Date(e.last).toISOString(), `${ip}: last seen`);
    if (e.recipients <= EXACT_LIMIT) {
      assert.equal(s.recipients, e.recipients, `${ip}: distinct recipients, exact up to ${EXACT_LIMIT}`);
      assert.equal(s.recipientsEstimated, false);
    } else {
      estimated++;
      assert.equal(s.recipientsEstimated, true, `${ip}: more than ${EXACT_LIMIT} recipients is said to be an estimate`);
      assert.ok(Math.abs(s.recipients - e.recipients) / e.recipients < 0.15, `${ip}: estimate ${s.recipients} within 15% of ${e.recipients}`);
    }
  }
  assert.ok(estimated > 0, 'some sources (the printers) have more recipients than are counted exactly');

  // Bounded state: whatever the number of rows a source has, what it keeps is capped.
  assert.ok(run.aggregator.samples.length <= MAX_SAMPLE_MESSAGES);
  for (const s of run.aggregator.sources.values()) {
    assert.ok(s.subjects.length <= MAX_SUBJECTS, `${s.key}: ${s.subjects.length} subjects kept`);
    assert.ok(s.subjects.every((x) => x.length <= 200));
    assert.ok(s.recipients.hashes.length <= EXACT_LIMIT && (s.recipients.sketch === null || s.recipients.sketch.length === 1024), `${s.key}: recipient state bounded`);
    assert.ok(s.recentMessages.length <= 2 * RECENT_MESSAGES);
    for (const f of COUNTER_FIELDS) assert.ok(s[f].counts.size <= COUNTER_CAPS[f], `${s.key}: ${f} keeps at most ${COUNTER_CAPS[f]} keys`);
  }
});

test('with thousands of sources the parallel read gives exactly the one-pass report', async (t) => {
  const { dir, file, connectors } = await setUp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const one = await newRun(connectors);
  await importInput(fileInput(file), one);
  const parallel = await newRun(connectors);
  assert.equal((await importFileParallel(file, file, parallel, { threads: 2, minBytes: 0 })).parallel, true);
  const model = (run: ReportRun): string => JSON.stringify(run.finish());
  assert.equal(model(parallel), model(one));
});
