// `node bench/report/run.ts [rows] [runs]`: generates a message trace CSV (default 5,000,000 rows)
// in a temporary directory, then times `mxward report` and the equivalent DuckDB grouping query
// over the same file, side by side (alternating, each run in its own process), and prints the
// medians of both and their ratio. Other work on the machine moves single runs a lot: medians.
// Targets (issue 5): >= 500,000 rows/s, peak RSS < 300 MB, time <= 1.5 x DuckDB.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_CONNECTOR_CIDR, generateTrace } from './generate.ts';

const rows = Number(process.argv[2] ?? process.env.BENCH_ROWS ?? 5_000_000);
const runCount = Number(process.argv[3] ?? process.env.BENCH_RUNS ?? 5);
const dir = join(tmpdir(), 'mxward-bench-report');
mkdirSync(dir, { recursive: true });
const csv = join(dir, `trace-${rows}.csv`);
if (!existsSync(csv)) {
  process.stdout.write(`generating ${rows.toLocaleString('en-US')} rows into ${csv} …\n`);
  await generateTrace(`${csv}.part`, rows);
  renameSync(`${csv}.part`, csv);
}
const connectors = join(dir, 'connectors.json');
writeFileSync(connectors, JSON.stringify([{ Name: 'CRM', ConnectorType: 'Partner', SenderIPAddresses: [BENCH_CONNECTOR_CIDR], SenderDomains: ['smtp:contoso.com;1'], RestrictDomainsToIPAddresses: true }]));
const child = fileURLToPath(new URL('./child.ts', import.meta.url));

interface Result { side: string; ms: number; maxRssMb: number; exitCode?: number; directSend?: number }

function measure(side: 'mxward' | 'duckdb'): Result {
  const report = join(dir, 'report.json');
  const out = spawnSync(process.execPath, [child, side, csv, connectors, report], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = out.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`${side} run failed: ${out.stderr.slice(-2000)}`);
  const result = JSON.parse(line.slice(6)) as Result;
  if (side === 'mxward') result.directSend = (JSON.parse(readFileSync(report, 'utf8')) as { totals: { wouldReject: number } }).totals.wouldReject;
  return result;
}

const sizeMb = statSync(csv).size / 1e6;
process.stdout.write(`input: ${rows.toLocaleString('en-US')} rows, ${sizeMb.toFixed(0)} MB, ${navigatorCores()} cores\n`);
// Warm the page cache so neither side pays for the first read.
measure('duckdb');
const runs: Array<{ mx: Result; db: Result }> = [];
for (let i = 0; i < runCount; i++) runs.push({ mx: measure('mxward'), db: measure('duckdb') });
const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const mxMs = median(runs.map((r) => r.mx.ms));
const dbMs = median(runs.map((r) => r.db.ms));
const mxRss = median(runs.map((r) => r.mx.maxRssMb));
const mxRssMax = Math.max(...runs.map((r) => r.mx.maxRssMb));
const dbRss = median(runs.map((r) => r.db.maxRssMb));
const rate = rows / (mxMs / 1000);
const ratio = mxMs / dbMs;
const same = runs.every((r) => r.mx.directSend === r.db.directSend && r.mx.exitCode === 0);
const list = (side: 'mx' | 'db'): string => runs.map((r) => (r[side].ms / 1000).toFixed(2)).join(' ');
process.stdout.write([
  `mxward report: ${(mxMs / 1000).toFixed(2)} s (${Math.round(rate).toLocaleString('en-US')} rows/s), peak RSS ${mxRss.toFixed(0)} MB (highest ${mxRssMax.toFixed(0)}); runs: ${list('mx')}`,
  `DuckDB:        ${(dbMs / 1000).toFixed(2)} s, peak RSS ${dbRss.toFixed(0)} MB (Direct Send rows ${runs[0].db.directSend?.toLocaleString('en-US')}); runs: ${list('db')}`,
  `same answer: ${same ? 'yes' : 'NO'} (mxward would reject ${runs[0].mx.directSend?.toLocaleString('en-US')} rows, every run)`,
  `ratio mxward/DuckDB: ${ratio.toFixed(2)} (medians of ${runCount} runs each)`,
  `targets: >= 500,000 rows/s ${rate >= 500_000 ? 'met' : 'NOT met'}; RSS < 300 MB ${mxRssMax < 300 ? 'met' : 'NOT met'} (highest run); <= 1.5x DuckDB ${ratio <= 1.5 ? 'met' : 'NOT met'}`,
].join('\n') + '\n');
if (!same) process.exitCode = 1;

function navigatorCores(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 0;
}
